"""Parsing the truststore bundle: unusable entries (anchors unfit to be anchors among them) are skipped and
named, CRL signers kept apart."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from crafted import general_name, make, raw_constraints
from fixed import NOW, T0, client, root, sub
from nodegate.pki.authority import CLIENT_USAGE, CertificateAuthority, client_name, new_key, pem
from nodegate_authorizer.certificates import load_leaf_pem
from nodegate_authorizer.chain import PathPolicy, build_path
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.truststore import TruststoreError, parse_truststore, skipped_entries

GARBAGE = b"-----BEGIN CERTIFICATE-----\nMIIBnotacertificate==\n-----END CERTIFICATE-----\n"


def test_unparseable_and_non_ca_entries_are_skipped_and_the_rest_is_used() -> None:
    top = root()
    ca = sub(top)
    leaf = client(ca).cert
    signer = top.issue(
        x509.Name.from_rfc4514_string("CN=CRL signer"),
        key_usage=x509.KeyUsage(False, False, False, False, False, False, True, False, False),
        not_before=T0,
    ).cert
    store = parse_truststore(pem(top.cert) + GARBAGE + pem(leaf, ca.cert, signer))
    assert store.anchors == {top.cert}
    assert [c for group in store.by_subject.values() for c in group] == [top.cert, ca.cert]
    assert [c for group in store.crl_signers.values() for c in group] == [signer]
    assert len(store.skipped) == 2
    assert store.skipped[0].startswith("entry 2: does not parse")
    assert store.skipped[1].startswith("entry 3:")
    assert "is not a CA" in store.skipped[1]


def test_no_usable_anchor_is_an_error() -> None:
    top = root()
    with pytest.raises(TruststoreError):
        parse_truststore(GARBAGE)
    with pytest.raises(TruststoreError):
        parse_truststore(b"not pem at all")
    with pytest.raises(TruststoreError):
        parse_truststore(pem(sub(top).cert))  # an intermediate alone anchors nothing
    assert CLIENT_USAGE.digital_signature


def test_issuer_lookup_uses_rfc5280_name_matching() -> None:
    top = root("Case Root")
    renamed = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "NODEGATE  DEV PKI"),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, "  case   ROOT "),
        ]
    )
    assert parse_truststore(pem(top.cert)).named(renamed) == (top.cert,)


def test_duplicates_are_kept_once_and_do_not_end_the_bundle() -> None:
    top = root()
    ca = sub(top)
    store = parse_truststore(pem(top.cert, top.cert, ca.cert, ca.cert))
    assert [c for group in store.by_subject.values() for c in group] == [top.cert, ca.cert]
    assert store.skipped == ()


ROOT_NAME = x509.Name.from_rfc4514_string("CN=Crafted Root")


@pytest.mark.parametrize(
    ("defect", "rule"),
    [
        ("basicConstraints not critical", "basicConstraints is not critical"),
        ("keyUsage without keyCertSign", "keyUsage lacks keyCertSign"),
        ("critical AKI", "a critical authorityKeyIdentifier"),
        ("critical SKI", "a critical subjectKeyIdentifier"),
        ("unknown critical extension", "an unhandled critical extension 1.3.6.1.4.1.99999.1"),
        ("extendedKeyUsage serverAuth only", "extendedKeyUsage excludes clientAuth"),
    ],
)
def test_an_anchor_that_fails_the_ca_profile_is_skipped(defect: str, rule: str) -> None:
    """Nothing above an anchor checks it, so the truststore does (RFC 5280 4.2.1.x): it is left out, named."""
    good = root()
    key = new_key()
    bad = make(ROOT_NAME, key, ROOT_NAME, key, ca=True, defects={defect})
    data = pem(good.cert, bad)
    store = parse_truststore(data)
    assert store.anchors == {good.cert}
    assert store.skipped_entries == skipped_entries(data)
    (entry,) = store.skipped_entries
    assert (entry.number, entry.subject) == (2, "CN=Crafted Root")
    assert entry.rule.startswith("anchor ")
    assert rule in entry.rule
    assert str(entry) == f"entry 2: CN=Crafted Root: {entry.rule}"
    leaf = make(client_name("alice", "node-1"), new_key(), ROOT_NAME, key, ca=False)
    with pytest.raises(Denied) as denied:
        build_path(leaf, store, NOW, PathPolicy())
    assert denied.value.reason == Reason.UNTRUSTED_ISSUER
    assert skipped_entries(pem(bad)) == (entry.__class__(1, "CN=Crafted Root", entry.rule),)  # no anchor: no raise


def test_an_anchor_with_a_weak_key_is_skipped() -> None:
    weak = CertificateAuthority.root("Weak Root", key="rsa1024", not_before=T0)
    (entry,) = skipped_entries(pem(root().cert, weak.cert))
    assert entry.rule == "anchor key: RSA key of 1024 bits (< 2048)"


def _replace_once(cert: x509.Certificate, old: bytes, new: bytes) -> bytes:
    der = cert.public_bytes(Encoding.DER)
    assert der.count(old) == 1
    assert len(old) == len(new)
    return ssl.DER_cert_to_PEM_cert(der.replace(old, new)).encode()


P256 = bytes.fromhex("06082a8648ce3d030107")


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (P256, bytes.fromhex("06082a8648ce3d030104"), "prime239v1, a curve cryptography does not support"),
        (P256, bytes.fromhex("06082a8648ce3d030101"), "P-192 named, a P-256 point given"),
        (b"\x03\x42\x00\x04", b"\x03\x42\x00\x05", "a point encoding that does not exist"),
    ],
)
def test_a_public_key_that_does_not_load_is_a_skipped_entry(old: bytes, new: bytes, why: str) -> None:
    """Before, ``cryptography``'s UnsupportedAlgorithm or ValueError escaped parse_truststore (and a leaf's, the
    authorizer); now the entry is skipped (a leaf is MALFORMED_CERT)."""
    top = root()
    broken = _replace_once(root("Broken Key").cert, old, new)
    store = parse_truststore(pem(top.cert) + broken)
    (entry,) = store.skipped_entries
    assert (entry.number, entry.subject) == (2, "")
    assert entry.rule.startswith("does not parse: "), why
    assert "public key does not parse" in entry.rule, why
    with pytest.raises(ValueError, match="public key does not parse"):
        load_leaf_pem(_replace_once(client(top).cert, old, new).decode())


@settings(max_examples=150, deadline=None)
@given(
    permitted=st.lists(st.binary(min_size=0, max_size=33), min_size=1, max_size=2),
    excluded=st.lists(st.binary(min_size=0, max_size=33), max_size=2),
)
def test_ip_constraints_of_any_bytes_never_escape_the_parser(permitted: list[bytes], excluded: list[bytes]) -> None:
    """An iPAddress constraint must be 8 or 16+16 octets with a contiguous mask (RFC 5280 4.2.1.10); any other
    (4 octets raised TypeError before) makes the entry unparsable, so it is skipped, never raised."""
    key = new_key()
    subtrees = [general_name("ip", v) for v in permitted], [general_name("ip", v) for v in excluded]
    constrained = make(ROOT_NAME, key, ROOT_NAME, key, ca=True, extensions=[(raw_constraints(*subtrees), True)])
    store = parse_truststore(pem(root().cert, constrained))
    if store.skipped_entries:
        assert store.skipped_entries[0].rule.startswith("does not parse")
        assert any(len(v) not in (8, 32) for v in permitted + excluded) or any(
            not _contiguous(v[len(v) // 2 :]) for v in permitted + excluded
        )
    else:
        assert constrained in store.anchors
        assert all(len(v) in (8, 32) and _contiguous(v[len(v) // 2 :]) for v in permitted + excluded)


def _contiguous(mask: bytes) -> bool:
    bits = "".join(f"{octet:08b}" for octet in mask)
    return "01" not in bits


def test_a_ca_with_an_empty_subject_is_no_anchor_and_no_intermediate() -> None:
    """RFC 5280 4.1.2.6: a CA's subject MUST be a non-empty name (the name its certificates' issuer field
    repeats). A self-signed entry without one is left out, named; an intermediate without one breaks the path."""
    good = root()
    key, below = new_key(), new_key()
    empty = x509.Name([])
    anchor = make(empty, key, empty, key, ca=True)
    intermediate = make(empty, below, good.cert.subject, good.key, ca=True)
    store = parse_truststore(pem(good.cert, anchor, intermediate))
    assert store.anchors == {good.cert}
    (entry,) = store.skipped_entries
    assert (entry.number, entry.subject) == (2, "")
    assert "has an empty subject" in entry.rule
    leaf = make(client_name("alice", "node-1"), new_key(), empty, below, ca=False)
    with pytest.raises(Denied) as denied:
        build_path(leaf, store, NOW, PathPolicy())
    assert "has an empty subject" in denied.value.detail
