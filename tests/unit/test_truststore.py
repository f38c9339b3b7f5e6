"""Parsing the truststore bundle: unusable entries are skipped and named, CRL signers kept apart."""

from __future__ import annotations

import pytest
from cryptography import x509

from fixed import T0, client, root, sub
from nodegate.pki import CLIENT_USAGE, pem
from nodegate_authorizer.truststore import TruststoreError, parse_truststore

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
