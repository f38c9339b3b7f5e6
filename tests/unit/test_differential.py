"""Differential testing of the path decision against pyca/cryptography's ``x509.verification`` ClientVerifier.

Hypothesis generates chains (depth, key types, validity, pathLen, CA keyUsage, leaf EKU/keyUsage/CA flag,
signature hashes, X.509 v1 intermediates and leaves); both validators decide each at the same fixed time.
They must agree, except on the documented deviations (docs/conformance.md), where nodegate must be the one that refuses:

- D1: a leaf keyUsage without digitalSignature (nodegate refuses: TLS client authentication signs with it);
- D2: RSA keys under 2048 bits (nodegate's ``refuse_weak_crypto``).

A v1 leaf is compared under nodegate's ``refuse_v1_leaf`` profile: pyca refuses every v1 certificate, while
nodegate's default accepts v1 client certificates on purpose (decision 1 in docs/decisions.md; tested in
test_chain). v1 intermediates are compared under the default policy: neither side lets them act as CAs.

Not generated, because one side needs it outright: a leaf subjectAltName (ClientVerifier requires one,
nodegate reads identity from the subject) and CA keyUsage (ClientVerifier requires it; RFC 5280 does not)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from fixed import NOW, T0
from nodegate.pki import CA_USAGE, as_v1, build, client_name, name, new_key, pem
from nodegate_authorizer.chain import PathPolicy, build_path
from nodegate_authorizer.reasons import Denied
from nodegate_authorizer.truststore import parse_truststore

KEYS = {
    "ec": [new_key("ec") for _ in range(4)],
    "rsa": [new_key("rsa") for _ in range(2)],
    "rsa1024": [new_key("rsa1024")],
}
OUTCOMES: Counter[str] = Counter()
KU = {
    "digitalSignature": x509.KeyUsage(True, False, False, False, False, False, False, False, False),
    "keyEncipherment": x509.KeyUsage(False, False, True, False, False, False, False, False, False),
    "absent": None,
}
CA_NO_CERTSIGN = x509.KeyUsage(True, False, False, False, False, False, True, False, False)
EKU = {
    "clientAuth": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "serverAuth": [ExtendedKeyUsageOID.SERVER_AUTH],
    "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    "absent": None,
}
EKU_CHOICES = ["clientAuth", "clientAuth", "both", "absent", "serverAuth"]
WINDOWS = {"valid": (T0, 3650), "expired": (T0, 30), "not yet valid": (NOW + dt.timedelta(days=1), 30)}
HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    """A root, 0-3 intermediates and a leaf, with the features each validator looks at."""
    ca_key_kind = st.sampled_from(["ec", "ec", "ec", "rsa"])
    leaf_key_kind = st.sampled_from(["ec", "ec", "ec", "ec", "rsa", "rsa1024"])
    features: set[str] = set()

    def key(kind: str) -> Any:
        if kind == "rsa1024":
            features.add("D2")
        return draw(st.sampled_from(KEYS[kind]))

    root_key = key(draw(st.sampled_from(["ec", "rsa"])))
    root_name = name(O="diff", CN="Root")
    root = build(
        root_name, root_key.public_key(), root_name, root_key, ca=True, key_usage=CA_USAGE, not_before=T0, days=3650
    )
    parent, parent_key, intermediates = root, root_key, []
    for depth in range(draw(st.integers(0, 3))):
        ca_key = key(draw(ca_key_kind))
        start, days = WINDOWS[draw(st.sampled_from(["valid"] * 7 + ["expired"]))]
        cert = build(
            name(O="diff", CN=f"CA {depth}"),
            ca_key.public_key(),
            parent.subject,
            parent_key,
            issuer_cert=parent,
            ca=draw(st.sampled_from([True] * 7 + [False])),
            path_length=draw(st.sampled_from([None, None, 0, 1, 2])),
            key_usage=draw(st.sampled_from([CA_USAGE] * 7 + [CA_NO_CERTSIGN])),
            not_before=start,
            days=days,
            hash_algorithm=HASHES[draw(st.sampled_from(list(HASHES)))],
        )
        if draw(st.sampled_from([False] * 11 + [True])):
            cert = as_v1(cert, parent_key)
        intermediates.append(cert)
        parent, parent_key = cert, ca_key
    ku = draw(st.sampled_from(["digitalSignature", "digitalSignature", "absent", "keyEncipherment"]))
    if ku == "keyEncipherment":
        features.add("D1")
    start, days = WINDOWS[draw(st.sampled_from(["valid"] * 6 + ["expired", "not yet valid"]))]
    leaf_key = key(draw(leaf_key_kind))
    is_ca = draw(st.sampled_from([False] * 7 + [True]))
    leaf = build(
        client_name("alice", "node-1"),
        leaf_key.public_key(),
        parent.subject,
        parent_key,
        issuer_cert=parent,
        ca=is_ca,
        key_usage=KU[ku],
        eku=EKU[draw(st.sampled_from(EKU_CHOICES))],
        not_before=start,
        days=days,
        sans=[x509.RFC822Name("alice@example.com")],
        hash_algorithm=HASHES[draw(st.sampled_from(list(HASHES)))],
    )
    if draw(st.sampled_from([False] * 9 + [True])):
        leaf = as_v1(leaf, parent_key)
        hypothesis_event("v1 leaf")
    return {"root": root, "intermediates": intermediates, "leaf": leaf, "features": features}


def pyca_allows(chain: dict[str, Any]) -> bool:
    verifier = PolicyBuilder().store(Store([chain["root"]])).time(NOW).build_client_verifier()
    try:
        verifier.verify(chain["leaf"], chain["intermediates"])
    except VerificationError:
        return False
    return True


def nodegate_allows(chain: dict[str, Any]) -> bool:
    store = parse_truststore(pem(chain["root"], *chain["intermediates"]))
    policy = PathPolicy(refuse_v1_leaf=chain["leaf"].version is not x509.Version.v3)
    try:
        build_path(chain["leaf"], store, NOW, policy)
    except Denied:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(chain=chains())
def test_path_decision_agrees_with_pyca_client_verifier(chain: dict[str, Any]) -> None:
    ours, theirs = nodegate_allows(chain), pyca_allows(chain)
    deviations = sorted(chain["features"])
    label = f"{'allow' if ours else 'deny'}/{'allow' if theirs else 'deny'}" + (
        f" {'+'.join(deviations)}" if deviations else ""
    )
    OUTCOMES[label] += 1
    hypothesis_event(label)
    if deviations:
        assert not ours, "on a documented deviation nodegate must be the one that refuses"
    else:
        assert ours == theirs, f"nodegate {'allows' if ours else 'refuses'}, pyca {'allows' if theirs else 'refuses'}"
