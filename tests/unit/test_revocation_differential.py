"""Differential testing of the revocation step against pyhanko-certvalidator, the second implementation.

A fixed path (root -> issuing CA -> client certificate, no distribution points, as in PKITS) and Hypothesis
choosing the CRL of each issuer: absent, good, listing the certificate (with or without a reason code, hold
included), stale, not yet valid, signed by a key that is not the issuer's, with an extra unrelated entry.
Both implementations decide through their production entry points (nodegate's runtime with a file:// CRL
store, certvalidator's ``revocation_mode="require"``) at the same fixed time and must agree, except on one
documented deviation, where nodegate must be the one refusing:

- R1: a CRL lists the certificate with a revocation date after the validation time. RFC 5280 6.3.3 (i) looks
  for the serial number only, not the date; certvalidator validates "as of" its moment and allows.

Both refuse a certificate that an older CRL lists and a newer one does not (nodegate reads every usable CRL,
docs/conformance.md)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from fixed import HOUR, NOW, T0, root, sub
from nodegate.conformance import certvalidator_allows, decide
from nodegate.pki import CertificateAuthority, client_name, crl_der, new_key
from nodegate_authorizer.chain import PathPolicy

ROOT = root("Differential Root")
ISSUING = sub(ROOT, "Differential Issuing")
LEAF = ISSUING.issue(client_name("alice", "node-1"), not_before=T0, with_crl_url=False, with_ocsp_url=False)
IMPOSTOR = new_key("ec")
DAY = dt.timedelta(days=1)
R1 = "revocation date after now"
KINDS = (
    "absent",
    "good",
    "revoked",
    "revoked with reason",
    "on hold",
    "stale",
    "not yet valid",
    "wrong signer",
    "another CA's name",
    "unknown critical extension",
    "newer good, older revoked",
    R1,
)
UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
OUTCOMES: Counter[str] = Counter()


def crl(issuer: CertificateAuthority, kind: str, serial: int, extra: bool) -> list[bytes]:
    """The CRLs ``issuer`` publishes for the certificate with ``serial``, as ``kind`` says."""
    if kind == "absent":
        return []
    if kind == "newer good, older revoked":
        older = issuer.crl({serial: NOW - 3 * DAY}, this_update=NOW - 2 * DAY, next_update=NOW + DAY, number=1)
        newer = issuer.crl({}, this_update=NOW - HOUR, next_update=NOW + DAY, number=2)
        return [crl_der(older), crl_der(newer)]
    listed = kind in ("revoked", "revoked with reason", "on hold", R1)
    revoked = {serial: NOW + HOUR if kind == R1 else NOW - 2 * HOUR} if listed else {}
    if extra:
        revoked[serial + 1] = NOW - DAY
    reasons = {"revoked with reason": x509.ReasonFlags.key_compromise, "on hold": x509.ReasonFlags.certificate_hold}
    this_update = {"stale": NOW - 3 * DAY, "not yet valid": NOW + DAY}.get(kind, NOW - HOUR)
    signer = CertificateAuthority.root("Differential Other") if kind == "another CA's name" else issuer
    signed = signer.crl(
        revoked,
        this_update=this_update,
        next_update=NOW - DAY if kind == "stale" else this_update + 2 * DAY,
        signer=IMPOSTOR if kind == "wrong signer" else None,
        reasons={serial: reasons[kind]} if kind in reasons else None,
        extensions=[(UNKNOWN, True)] if kind == "unknown critical extension" else (),
    )
    return [crl_der(signed)]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    leaf_crl=st.sampled_from(KINDS),
    issuing_crl=st.sampled_from(KINDS),
    extra_entries=st.booleans(),
)
def test_revocation_decisions_agree_with_certvalidator(leaf_crl: str, issuing_crl: str, extra_entries: bool) -> None:
    crls = {
        f"{name}-{n}": der
        for name, ders in (
            ("issuing", crl(ISSUING, leaf_crl, LEAF.cert.serial_number, extra_entries)),
            ("root", crl(ROOT, issuing_crl, ISSUING.cert.serial_number, extra_entries)),
        )
        for n, der in enumerate(ders)
    }
    root_der, issuing_der, leaf_der = (c.cert.public_bytes(Encoding.DER) for c in (ROOT, ISSUING, LEAF))
    allowed, reason, detail = decide([root_der, issuing_der], crls, leaf_der, NOW, PathPolicy())
    theirs = certvalidator_allows(root_der, [issuing_der], list(crls.values()), leaf_der, NOW)
    deviation = R1 in (leaf_crl, issuing_crl)
    OUTCOMES[f"{'allow' if allowed else 'deny'}/{'allow' if theirs else 'deny'}{' R1' if deviation else ''}"] += 1
    hypothesis_event(f"leaf CRL {leaf_crl}, issuing CA CRL {issuing_crl}")
    assert allowed == (leaf_crl == "good" and issuing_crl == "good"), (reason, detail)
    if not deviation:
        assert allowed == theirs, (leaf_crl, issuing_crl, extra_entries, reason, detail)
