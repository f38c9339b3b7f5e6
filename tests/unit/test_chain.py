"""Path validation at a fixed clock: name constraints and policies whatever their criticality, self-issued
certificates and path length, and the two deliberate deviations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import event as hypothesis_event
from hypothesis import given, settings
from hypothesis import strategies as st

from crafted import general_name, make, raw_alt_names, raw_constraints
from fixed import NOW, T0, client, root, sub
from nodegate.pki.authority import CertificateAuthority, as_v1, client_name, name, new_key, pem
from nodegate_authorizer.chain import PathPolicy, Role, build_path
from nodegate_authorizer.policies import PolicyInputs
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.truststore import parse_truststore

POLICY = PathPolicy()
TEST_POLICY = x509.ObjectIdentifier("2.16.840.1.101.3.2.1.48.1")


def refuse(leaf: x509.Certificate, *cas: x509.Certificate, policy: PathPolicy = POLICY) -> Denied:
    with pytest.raises(Denied) as denied:
        build_path(leaf, parse_truststore(pem(*cas)), NOW, policy)
    return denied.value


@pytest.mark.parametrize("critical", [True, False])
def test_name_constraints_apply_whatever_their_criticality(critical: bool) -> None:
    top = root()
    excluded = x509.NameConstraints(None, [x509.DirectoryName(x509.Name.from_rfc4514_string("O=evil"))])
    ca = sub(top, extensions=[(excluded, critical)])
    good = client(ca).cert
    evil = ca.issue(client_name("mallory", "node-1", organization="EVIL"), not_before=T0).cert
    assert build_path(good, parse_truststore(pem(top.cert, ca.cert)), NOW, POLICY)[0] == good
    assert refuse(evil, top.cert, ca.cert).reason == Reason.INVALID_CHAIN


@pytest.mark.parametrize("critical", [True, False])
def test_require_explicit_policy_applies_whatever_its_criticality(critical: bool) -> None:
    top = root()
    ca = sub(
        top, extensions=[(x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), critical)]
    )
    without = client(ca).cert
    policies = x509.CertificatePolicies([x509.PolicyInformation(TEST_POLICY, None)])
    assert "policies" in refuse(without, top.cert, ca.cert).detail
    ca_with = sub(top, "Issuing P", extensions=[(policies, False), (x509.PolicyConstraints(0, None), critical)])
    with_policy = client(ca_with, extensions=[(policies, False)]).cert
    assert build_path(with_policy, parse_truststore(pem(top.cert, ca_with.cert)), NOW, POLICY)[0] == with_policy
    wanted = PathPolicy(
        policies=PolicyInputs(initial_policy_set=frozenset({"2.16.840.1.101.3.2.1.48.2"}), initial_explicit_policy=True)
    )
    assert refuse(with_policy, top.cert, ca_with.cert, policy=wanted).reason == Reason.INVALID_CHAIN


def test_self_issued_certificates_do_not_count_in_path_length() -> None:
    top = root()
    ca = sub(top, path_length=0)
    rekeyed = ca.issue(ca.cert.subject, ca=True, path_length=0, not_before=T0)  # same name, new key
    new_ca = CertificateAuthority(rekeyed.cert, rekeyed.key)
    leaf = client(new_ca).cert
    store = parse_truststore(pem(top.cert, ca.cert, new_ca.cert))
    assert build_path(leaf, store, NOW, POLICY) == (leaf, new_ca.cert, ca.cert, top.cert)
    other = sub(ca, "Below pathLen 0", path_length=None)
    assert refuse(client(other).cert, top.cert, ca.cert, other.cert).reason == Reason.INVALID_CHAIN


def test_deliberate_deviations_are_named_rules() -> None:
    top = root()
    ca = sub(top, path_length=1)
    both = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    ca_leaf = ca.issue(client_name("alice", "node-1"), ca=True, not_before=T0, eku=None, key_usage=both).cert
    assert refuse(ca_leaf, top.cert, ca.cert).detail == "leaf is a CA certificate"
    relaxed = PathPolicy(refuse_ca_leaf=False)
    assert build_path(ca_leaf, parse_truststore(pem(top.cert, ca.cert)), NOW, relaxed)[0] == ca_leaf
    short = client(ca, key="rsa1024").cert
    assert refuse(short, top.cert, ca.cert).reason == Reason.WEAK_CRYPTO
    no_crypto_rule = PathPolicy(refuse_weak_crypto=False)
    assert build_path(short, parse_truststore(pem(top.cert, ca.cert)), NOW, no_crypto_rule)[0] == short
    v1 = as_v1(client(ca).cert, ca.key)
    assert build_path(v1, parse_truststore(pem(top.cert, ca.cert)), NOW, POLICY)[0] == v1  # decision 1
    strict = PathPolicy(refuse_v1_leaf=True)
    assert refuse(v1, top.cert, ca.cert, policy=strict).detail == "end certificate is X.509 v1, not v3"


def test_unknown_critical_extension_refused_anywhere_in_the_path() -> None:
    top = root()
    unknown = (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)
    ca = sub(top, extensions=[unknown])
    assert "unhandled critical extension" in refuse(client(ca).cert, top.cert, ca.cert).detail
    plain = sub(top, "Plain")
    assert (
        "unhandled critical extension" in refuse(client(plain, extensions=[unknown]).cert, top.cert, plain.cert).detail
    )


def test_leaf_key_usage_and_extended_key_usage() -> None:
    top = root()
    ca = sub(top)
    encipher_only = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    denied = refuse(client(ca, key_usage=encipher_only).cert, top.cert, ca.cert)
    assert (denied.reason, denied.detail) == (Reason.WRONG_KEY_USAGE, "leaf keyUsage lacks digitalSignature")
    server_only = client(ca, eku=[x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]).cert
    denied = refuse(server_only, top.cert, ca.cert)
    assert (denied.reason, denied.detail) == (Reason.WRONG_KEY_USAGE, "leaf extendedKeyUsage lacks clientAuth")
    lenient = PathPolicy(require_client_auth_eku_when_present=False)
    assert build_path(server_only, parse_truststore(pem(top.cert, ca.cert)), NOW, lenient)[0] == server_only
    no_eku = client(ca, eku=None).cert
    assert build_path(no_eku, parse_truststore(pem(top.cert, ca.cert)), NOW, POLICY)[0] == no_eku


def test_crl_signer_role_needs_crl_sign_not_client_rules() -> None:
    top = root()
    crl_only = x509.KeyUsage(False, False, False, False, False, False, True, False, False)
    signer = top.issue(x509.Name.from_rfc4514_string("CN=CRL signer"), key_usage=crl_only, eku=None, not_before=T0).cert
    store = parse_truststore(pem(top.cert))
    assert build_path(signer, store, NOW, POLICY, Role.CRL_SIGNER) == (signer, top.cert)
    assert refuse(signer, top.cert).detail == "leaf keyUsage lacks digitalSignature"  # not a client certificate
    sign_only = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    not_signer = top.issue(x509.Name.from_rfc4514_string("CN=not a CRL signer"), key_usage=sign_only, not_before=T0)
    with pytest.raises(Denied) as denied:
        build_path(not_signer.cert, store, NOW, POLICY, Role.CRL_SIGNER)
    assert denied.value.detail == "CRL signer keyUsage lacks cRLSign"


def test_intermediate_count_limit() -> None:
    top = root()
    chain = [top]
    for depth in range(7):
        chain.append(sub(chain[-1], f"CA {depth}", path_length=None))
    six = client(chain[6]).cert
    seven = client(chain[7]).cert
    store = parse_truststore(pem(*(ca.cert for ca in chain)))
    assert len(build_path(six, store, NOW, POLICY)) == 8
    with pytest.raises(Denied) as denied:
        build_path(seven, store, NOW, POLICY)
    assert denied.value.reason == Reason.UNTRUSTED_ISSUER
    assert len(build_path(seven, store, NOW, PathPolicy(max_intermediates=7))) == 9


def test_no_path_names_the_issuer() -> None:
    top, stranger = root(), root("Stranger")
    denied = refuse(client(sub(stranger)).cert, top.cert)
    assert denied.reason == Reason.UNTRUSTED_ISSUER
    assert "Fixed Issuing" in denied.detail


def test_a_subject_with_a_subject_alt_name_is_still_constrained() -> None:
    top = root()
    excluded = x509.NameConstraints(None, [x509.DirectoryName(x509.Name.from_rfc4514_string("O=evil"))])
    ca = sub(top, extensions=[(excluded, True)])
    evil = ca.issue(
        client_name("mallory", "node-1", organization="evil"),
        not_before=T0,
        sans=[x509.RFC822Name("mallory@example.com")],
    ).cert
    assert refuse(evil, top.cert, ca.cert).reason == Reason.INVALID_CHAIN


def test_validity_bounds_are_inclusive() -> None:
    import datetime as dt

    top = root()
    ca = sub(top)
    leaf = client(ca, days=30).cert
    store = parse_truststore(pem(top.cert, ca.cert))
    assert build_path(leaf, store, leaf.not_valid_before_utc, POLICY)[0] == leaf
    assert build_path(leaf, store, leaf.not_valid_after_utc, POLICY)[0] == leaf
    second = dt.timedelta(seconds=1)
    assert refuse_at(leaf, store, leaf.not_valid_before_utc - second).reason == Reason.NOT_YET_VALID
    assert refuse_at(leaf, store, leaf.not_valid_after_utc + second).reason == Reason.EXPIRED


def refuse_at(leaf: x509.Certificate, store: object, when: object) -> Denied:
    with pytest.raises(Denied) as denied:
        build_path(leaf, store, when, POLICY)  # type: ignore[arg-type]
    return denied.value


def test_weak_crypto_anywhere_but_the_anchor_signature(tmp_path: Path) -> None:
    """SHA-1 signatures refuse a leaf or an intermediate, not the anchor's own; short keys refuse anywhere (an
    anchor with one is no anchor: the truststore leaves it out)."""
    from nodegate_dev.world import openssl_v1_client

    top = root()
    ca = sub(top)
    sha1_leaf = x509.load_pem_x509_certificate(openssl_v1_client(ca, tmp_path, digest="sha1"))
    denied = refuse(sha1_leaf, top.cert, ca.cert)
    assert (denied.reason, denied.detail) == (Reason.WEAK_CRYPTO, "leaf: sha1 signature")
    short_ca = CertificateAuthority(
        *_issued(top.issue(x509.Name.from_rfc4514_string("CN=Short CA"), ca=True, key="rsa1024", not_before=T0))
    )
    denied = refuse(client(short_ca).cert, top.cert, short_ca.cert)
    assert (denied.reason, denied.detail) == (Reason.WEAK_CRYPTO, "intermediate 1: RSA key of 1024 bits (< 2048)")
    short_root = CertificateAuthority.root("Short Root", key="rsa1024", not_before=T0)
    store = parse_truststore(pem(top.cert, short_root.cert))
    assert store.skipped == (
        f"entry 2: {short_root.cert.subject.rfc4514_string()}: anchor key: RSA key of 1024 bits (< 2048)",
    )
    assert refuse(client(short_root).cert, top.cert, short_root.cert).reason == Reason.UNTRUSTED_ISSUER
    sha1_root = _openssl_sha1_root(tmp_path)
    sha1_root_ca = CertificateAuthority(sha1_root.cert, sha1_root.key)
    leaf = client(sha1_root_ca).cert
    later = sha1_root.cert.not_valid_before_utc + dt.timedelta(days=1)  # openssl 3.0 cannot backdate the root
    assert build_path(leaf, parse_truststore(pem(sha1_root.cert)), later, POLICY)[-1] == sha1_root.cert


def _issued(issued: object) -> tuple[object, object]:
    return issued.cert, issued.key  # type: ignore[attr-defined]


def _openssl_sha1_root(tmp: Path) -> object:
    """A self-signed root signed with SHA-1 (cryptography no longer signs SHA-1; openssl still does)."""
    import subprocess

    from cryptography.hazmat.primitives import serialization

    from nodegate.pki.authority import Issued

    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha1",
            "-days",
            "3650",
            "-subj",
            "/O=nodegate dev PKI/CN=SHA1 Root",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        cwd=tmp,
        check=True,
        capture_output=True,
    )
    cert = x509.load_pem_x509_certificate((tmp / "root.pem").read_bytes())
    key = serialization.load_pem_private_key((tmp / "root.key").read_bytes(), None)
    return Issued(cert, key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("purposes", "allowed"),
    [
        ([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH], False),
        ([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH], True),
        ([x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE], True),
        ([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH], True),
    ],
)
def test_an_intermediate_extended_key_usage_must_allow_client_auth(
    purposes: list[x509.ObjectIdentifier], allowed: bool
) -> None:
    top = root()
    ca = sub(top, extensions=[(x509.ExtendedKeyUsage(purposes), False)])
    leaf = client(ca).cert
    if allowed:
        assert build_path(leaf, parse_truststore(pem(top.cert, ca.cert)), NOW, POLICY)[0] == leaf
    else:
        denied = refuse(leaf, top.cert, ca.cert)
        assert (denied.reason, denied.detail) == (
            Reason.WRONG_KEY_USAGE,
            "intermediate 1 extendedKeyUsage excludes clientAuth",
        )


def test_ed25519_and_rsa_pss_signed_paths_validate() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

    from nodegate.pki.authority import CA_USAGE, CLIENT_USAGE

    def chain(root_key: object, leaf_key: object, **sign: object) -> tuple[x509.Certificate, x509.Certificate]:
        name = x509.Name.from_rfc4514_string("CN=Sig Root")
        top = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(root_key.public_key())  # type: ignore[attr-defined]
            .serial_number(1)
            .not_valid_before(T0)
            .not_valid_after(T0 + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(CA_USAGE, critical=True)
            .sign(root_key, **sign)  # type: ignore[arg-type]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(client_name("alice", "node-1"))
            .issuer_name(name)
            .public_key(leaf_key.public_key())
            .serial_number(7)
            .not_valid_before(T0)  # type: ignore[attr-defined]
            .not_valid_after(T0 + dt.timedelta(days=365))
            .add_extension(CLIENT_USAGE, critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)  # type: ignore[attr-defined]
        )
        return top, builder.sign(root_key, **sign)  # type: ignore[arg-type]

    edwards = ed25519.Ed25519PrivateKey.generate()
    top, leaf = chain(edwards, ed25519.Ed25519PrivateKey.generate(), algorithm=None)
    assert build_path(leaf, parse_truststore(pem(top)), NOW, POLICY) == (leaf, top)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    top, leaf = chain(rsa_key, rsa_key, algorithm=hashes.SHA256(), rsa_padding=pss)
    assert build_path(leaf, parse_truststore(pem(top)), NOW, POLICY) == (leaf, top)


FORMS = {
    "dn": [name(O="Example"), name(O="Example", OU="ops"), name(O="Other")],
    "dns": [b"example.com", b"corp.example", b"a.example.com"],
    "email": [b"example.com", b".example.com", b"a@example.com"],
    "ip": [bytes([10, 0, 0, 0, 255, 0, 0, 0]), bytes([10, 1, 0, 0, 255, 255, 0, 0])],
    "uri": [b"example.com", b".example.com", b"corp.example"],
}
LEAF_NAMES = {
    "dns": [b"a.example.com", b"x.corp.example", b"evil.com"],
    "email": [b"a@example.com", b"b@mail.example.com", b"a@evil.com"],
    "ip": [bytes([10, 0, 0, 1]), bytes([10, 1, 2, 3]), bytes([192, 168, 0, 1])],
    "uri": [b"https://a.example.com/x", b"https://example.com", b"https://evil.com/"],
}


@settings(max_examples=120, deadline=None)
@given(data=st.data(), form=st.sampled_from(sorted(FORMS)))
def test_an_anchor_constrains_names_as_an_intermediate_would(data: st.DataObject, form: str) -> None:
    """RFC 5937 3: the anchor's nameConstraints bind its paths. Whatever the constraints and the leaf's names,
    root(constraints) -> leaf is decided as root -> CA(constraints) -> leaf (before, the first always passed)."""
    subtrees = data.draw(st.lists(st.sampled_from(FORMS[form]), min_size=1, max_size=2))
    encoded = [general_name(form, s) for s in subtrees]
    split = data.draw(st.integers(0, len(encoded)))
    constraints = [(raw_constraints(encoded[:split], encoded[split:]), data.draw(st.booleans()))]
    subject = name(O=data.draw(st.sampled_from(["Example", "Other"])), CN="leaf")
    pool = LEAF_NAMES.get(form)
    alt = [general_name(form, v) for v in data.draw(st.lists(st.sampled_from(pool), max_size=2))] if pool else []
    leaf_extensions = [(raw_alt_names(alt), False)] if alt else []
    root_key, ca_key, leaf_key = new_key(), new_key(), new_key()
    constrained_root = make(ROOT, root_key, ROOT, root_key, ca=True, extensions=constraints)
    direct = make(subject, leaf_key, ROOT, root_key, ca=False, extensions=leaf_extensions)
    plain_root = make(ROOT, root_key, ROOT, root_key, ca=True)
    constrained_ca = make(CA, ca_key, ROOT, root_key, ca=True, extensions=constraints)
    below = make(subject, leaf_key, CA, ca_key, ca=False, extensions=leaf_extensions)
    by_anchor = _decide(direct, constrained_root)
    assert by_anchor == _decide(below, plain_root, constrained_ca)
    hypothesis_event(f"{form}: {'allowed' if by_anchor else 'refused'}")


ROOT, CA = name(O="Crafted", CN="Root"), name(O="Crafted", CN="CA")


def _decide(leaf: x509.Certificate, *cas: x509.Certificate) -> bool:
    try:
        build_path(leaf, parse_truststore(pem(*cas)), NOW, POLICY)
    except Denied:
        return False
    return True


def test_examples_of_anchor_constraints() -> None:
    """A root constrained to O=Example, or to DNS corp.example, refuses names outside (both passed before)."""
    key = new_key()
    to_example = x509.NameConstraints([x509.DirectoryName(name(O="Example"))], None)
    top = make(ROOT, key, ROOT, key, ca=True, extensions=[(to_example, True)])
    assert _decide(make(name(O="Example", CN="leaf"), new_key(), ROOT, key, ca=False), top)
    assert not _decide(make(name(O="Other", CN="leaf"), new_key(), ROOT, key, ca=False), top)
    to_corp = x509.NameConstraints([x509.DNSName("corp.example")], None)
    top = make(ROOT, key, ROOT, key, ca=True, extensions=[(to_corp, True)])
    inside = x509.SubjectAlternativeName([x509.DNSName("host.corp.example")])
    outside = x509.SubjectAlternativeName([x509.DNSName("host.evil.example")])
    assert _decide(make(name(CN="leaf"), new_key(), ROOT, key, ca=False, extensions=[(inside, False)]), top)
    assert not _decide(make(name(CN="leaf"), new_key(), ROOT, key, ca=False, extensions=[(outside, False)]), top)


def test_anchor_path_length_and_policy_constraints_bind_the_path() -> None:
    """An anchor's pathLenConstraint counts the certificates below it (as OpenSSL, Go and pyca do); its
    requireExplicitPolicy 0 requires a policy from the first certificate below it (RFC 5937 3.2)."""
    top = CertificateAuthority.root("Fixed Root", not_before=T0)
    zero = CertificateAuthority(_with_path_length(top.key, 0), top.key)
    ca = sub(zero)
    assert refuse(client(ca).cert, zero.cert, ca.cert).detail == "intermediate 1: path length constraint exceeded"
    assert build_path(client(zero).cert, parse_truststore(pem(zero.cert)), NOW, POLICY)[-1] == zero.cert
    explicit = x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None)
    strict = CertificateAuthority(make(ROOT, top.key, ROOT, top.key, ca=True, extensions=[(explicit, True)]), top.key)
    assert "policies" in refuse(client(strict).cert, strict.cert).detail
    policies = x509.CertificatePolicies([x509.PolicyInformation(TEST_POLICY, None)])
    with_policy = client(strict, extensions=[(policies, False)]).cert
    assert build_path(with_policy, parse_truststore(pem(strict.cert)), NOW, POLICY)[0] == with_policy


def _with_path_length(key: object, length: int) -> x509.Certificate:
    from nodegate.pki.authority import CA_USAGE, build

    return build(ROOT, key.public_key(), ROOT, key, ca=True, path_length=length, key_usage=CA_USAGE, not_before=T0)  # type: ignore[attr-defined,arg-type]


@pytest.mark.parametrize(
    ("defect", "detail"),
    [
        ("nameConstraints", "leaf has nameConstraints, which only a CA certificate may carry (RFC 5280 4.2.1.10)"),
        ("nameConstraints critical", "leaf has nameConstraints, which only a CA certificate may carry"),
        ("keyCertSign without cA", "leaf has keyCertSign in keyUsage without basicConstraints cA (RFC 5280 4.2.1.9)"),
        ("no AKI", "leaf has no authorityKeyIdentifier (RFC 5280 4.2.1.1"),
        ("critical AKI", "leaf has a critical authorityKeyIdentifier"),
        ("critical SKI", "leaf has a critical subjectKeyIdentifier"),
    ],
)
def test_end_certificate_issuance_rules(defect: str, detail: str) -> None:
    """RFC 5280 rules for what a CA may put in an end certificate; each of these was accepted before."""
    top = root()
    extensions = []
    if defect.startswith("nameConstraints"):
        constraints = x509.NameConstraints([x509.DNSName("example.com")], None)
        extensions = [(constraints, defect.endswith("critical"))]
    leaf = make(
        client_name("alice", "node-1"),
        new_key(),
        top.cert.subject,
        top.key,
        ca=False,
        defects={defect},
        extensions=extensions,
    )
    denied = refuse(leaf, top.cert)
    assert (denied.reason, denied.detail.startswith(detail)) == (Reason.INVALID_CHAIN, True), denied.detail
    with pytest.raises(Denied):
        build_path(leaf, parse_truststore(pem(top.cert)), NOW, POLICY, Role.CRL_SIGNER)


MICROSECONDS = st.integers(1, 999_999)


@settings(max_examples=60, deadline=None)
@given(micro=MICROSECONDS)
def test_validity_is_compared_to_the_second(micro: int) -> None:
    """A certificate's times are whole seconds (RFC 5280 4.1.2.5): any instant within the notAfter second is
    still valid (before, 5 ms past it was EXPIRED); the next second is not; before notBefore is not."""
    leaf = LEAF_30_DAYS
    fraction = dt.timedelta(microseconds=micro)
    assert build_path(leaf, STORE_30_DAYS, leaf.not_valid_after_utc + fraction, POLICY)[0] == leaf
    second = dt.timedelta(seconds=1)
    assert refuse_at(leaf, STORE_30_DAYS, leaf.not_valid_after_utc + second + fraction).reason == Reason.EXPIRED
    assert refuse_at(leaf, STORE_30_DAYS, leaf.not_valid_before_utc - fraction).reason == Reason.NOT_YET_VALID


_TOP = root()
_CA = sub(_TOP)
LEAF_30_DAYS = client(_CA, days=30).cert
STORE_30_DAYS = parse_truststore(pem(_TOP.cert, _CA.cert))
