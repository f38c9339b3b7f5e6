"""RevokedEntries: a CRL's entries found by searching its DER agree with cryptography's own reading of the CRL,
whatever the serials (sizes, serials whose encoding hides inside others), the entry extensions and the CRL's
scope; and the large-CRL rows of the bench are exact at the start, middle and end of a 1M-entry CRL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixed import HOUR, NOW, crl_builder, root, sub
from nodegate_authorizer.names import canonical
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.revoked import serial_tlv
from nodegate_dev.largecrl import large_crl_der

REASONS = [None, x509.ReasonFlags.key_compromise, x509.ReasonFlags.remove_from_crl, x509.ReasonFlags.superseded]
SERIALS = st.one_of(
    st.integers(1, 2**8),
    st.integers(1, 2**64),
    st.integers(2**150, 2**159 - 1),
    st.sampled_from([0x05, 0x0517, 0x020105, 0x02010517, 0x80, 0xFF, 0x100]),  # encodings inside others
)


@st.composite
def crls(draw: st.DrawFn) -> tuple[bytes, dict[int, tuple[dt.datetime, x509.ReasonFlags | None]], bool]:
    """A signed CRL with generated entries (serial -> date, reason), direct or indirect, with or without a
    critical extension on an entry."""
    ca = sub(root())
    listed = draw(st.dictionaries(SERIALS, st.tuples(st.integers(1, 1000), st.sampled_from(REASONS)), max_size=25))
    critical = draw(st.booleans())
    builder = crl_builder(ca.cert.subject)
    entries = {}
    for i, (serial, (minutes, reason)) in enumerate(sorted(listed.items())):
        when = NOW - dt.timedelta(minutes=minutes)
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        if critical and i == 0:
            entry = entry.add_extension(x509.InvalidityDate(when), critical=True)
        builder = builder.add_revoked_certificate(entry.build())
        entries[serial] = (when, reason)
    der = builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER)
    return der, entries, critical


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(crl=crls(), probes=st.lists(SERIALS, max_size=10))
def test_lookups_agree_with_cryptography(
    crl: tuple[bytes, dict[int, tuple[dt.datetime, x509.ReasonFlags | None]], bool], probes: list[int]
) -> None:
    der, entries, critical = crl
    index = parse_crl(der)
    assert (index.revoked.indexed is not None) == (critical and bool(entries))  # searched unless it may hold one
    for serial in {*entries, *(s + 1 for s in entries), *(s - 1 for s in entries if s > 1), *probes}:
        found = index.revoked.get(index.issuer, serial)
        theirs = index.crl.get_revoked_certificate_by_serial_number(serial)
        assert (found is None) == (theirs is None), serial
        if found is not None:
            assert (found.revoked_at, found.reason) == entries[serial]
    other = canonical(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another CA")]))
    assert all(index.revoked.get(other, serial) is None for serial in entries)


@pytest.mark.parametrize("serial", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**159 - 1, 2**1100])
def test_serial_encoding_is_der(serial: int) -> None:
    """The needle is the DER INTEGER another encoder writes (minimal two's complement, long-form length)."""
    from asn1crypto.core import Integer

    assert serial_tlv(serial) == Integer(serial).dump()


def test_a_million_entries_start_middle_and_end() -> None:
    """Issue 17: in a 1M-entry CRL (10 % with a reason code) the first, middle and last serials are found with
    their reason, their neighbours are not."""
    ca = sub(root())
    first, step, count = 0x10_0000_0000, 7, 1_000_000
    der = large_crl_der(
        ca,
        range(first, first + step * count, step),
        revoked_at=NOW - HOUR,
        this_update=NOW - HOUR,
        next_update=NOW + HOUR,
    )
    index = parse_crl(der)
    assert index.revoked.indexed is None
    for position in (0, count // 2, count - 1):
        serial = first + step * position
        entry = index.revoked.get(index.issuer, serial)
        assert entry is not None, position
        assert entry.reason == (x509.ReasonFlags.key_compromise if position % 10 == 0 else None)
        assert index.revoked.get(index.issuer, serial + 1) is None
        assert index.revoked.get(index.issuer, serial - 1) is None


def test_a_crl_over_the_size_limit_is_refused_with_its_size_the_limit_and_the_setting(tmp_path: Path) -> None:
    """Issue 17: the refusal says what to change; the default limit reads a 4M-entry CRL (~100 MB)."""
    from nodegate_authorizer.settings import Settings
    from nodegate_authorizer.sources.blobs import BlobError, read_blob

    path = tmp_path / "big.crl"
    path.write_bytes(b"\0" * 5000)
    with pytest.raises(BlobError, match=r"is 5,000 bytes, over the 4,096-byte limit \(raise FETCH_MAX_BYTES"):
        read_blob(path.as_uri(), max_bytes=4096)
    assert Settings(truststore_uri="file:///ts.pem").fetch_max_bytes >= 100 * 1024 * 1024


@pytest.mark.parametrize("indirect", [False, True])
@pytest.mark.parametrize("order", [(REASONS[1], REASONS[2]), (REASONS[2], REASONS[1]), (REASONS[2], REASONS[2])])
def test_a_serial_listed_twice_is_revoked_unless_every_entry_removes_it(
    indirect: bool, order: tuple[x509.ReasonFlags, x509.ReasonFlags]
) -> None:
    """Review finding: the searched path took the first entry and the indexed path the last, so the same CRL
    answered differently by order and by path. Now both: any entry that is not removeFromCRL revokes."""
    ca = sub(root())
    builder = crl_builder(ca.cert.subject)
    if indirect:
        point = x509.IssuingDistributionPoint(None, None, False, False, None, True, False)
        builder = builder.add_extension(point, critical=True)
    for reason in order:
        entry = x509.RevokedCertificateBuilder().serial_number(77).revocation_date(NOW - HOUR)
        builder = builder.add_revoked_certificate(entry.add_extension(x509.CRLReason(reason), critical=False).build())
    index = parse_crl(builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER))
    assert (index.revoked.indexed is not None) == indirect
    entry = index.revoked.get(index.issuer, 77)
    assert entry is not None
    removed = all(reason is x509.ReasonFlags.remove_from_crl for reason in order)
    assert (entry.reason is x509.ReasonFlags.remove_from_crl) == removed


def test_an_entry_with_an_unreadable_reason_still_revokes() -> None:
    """Review finding: a reasonCode of 7 (unassigned) made the entry unreadable, the certificate 'unavailable'
    and soft-fail let it in; OpenSSL reports it revoked. It now revokes, reason unknown."""
    from nodegate_dev.largecrl import resigned

    ca = sub(root())
    entry = x509.RevokedCertificateBuilder().serial_number(99).revocation_date(NOW - HOUR)
    entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
    builder = crl_builder(ca.cert.subject).add_revoked_certificate(entry.build())
    der = builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER)
    assert der.count(b"\x0a\x01\x01") == 1
    index = parse_crl(resigned(der.replace(b"\x0a\x01\x01", b"\x0a\x01\x07"), ca.key))
    listed = index.revoked.get(index.issuer, 99)
    assert listed is not None
    assert listed.reason is None


@pytest.mark.parametrize("serial", [0, -1, -(2**64)])
def test_a_client_certificate_serial_must_be_positive(serial: int) -> None:
    """Review finding: a negative serial was found on the CRL but cryptography's lookup refused it, so the
    revoked certificate was 'unavailable' and soft-fail let it in. RFC 5280 4.1.2.2: a positive integer."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from fixed import client
    from nodegate_authorizer.certificates import load_leaf_pem

    ca = sub(root())
    parsed = asn1_x509.Certificate.load(client(ca).cert.public_bytes(Encoding.DER))
    parsed["tbs_certificate"]["serial_number"] = serial
    tbs = asn1_x509.TbsCertificate.load(parsed["tbs_certificate"].dump(force=True))
    parsed["tbs_certificate"] = tbs
    parsed["signature_value"] = ca.key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, arg-type]
    pem_text = x509.load_der_x509_certificate(parsed.dump(force=True)).public_bytes(Encoding.PEM).decode()
    with pytest.raises(ValueError, match="not a positive integer"):
        load_leaf_pem(pem_text)


def test_a_crl_refused_for_its_size_is_counted_and_named_in_the_decision(tmp_path: Path) -> None:
    """Issue 17: a stored CRL over FETCH_MAX_BYTES leaves its certificates unanswered; the decision log says the
    size, the limit and the setting, and RevocationSourceTooLarge counts it (``too_large``)."""
    from fixed import client
    from nodegate.pki.authority import pem
    from nodegate_authorizer.handler import make_handler
    from nodegate_authorizer.runtime import build_runtime
    from nodegate_authorizer.settings import load_settings
    from nodegate_dev.world import event

    top = root()
    ca = sub(top)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False)
    (tmp_path / "ts.pem").write_bytes(pem(top.cert, ca.cert))
    store = tmp_path / "crls"
    store.mkdir()
    (store / "issuing.crl").write_bytes(
        large_crl_der(
            ca, range(10**6, 10**6 + 2000), revoked_at=NOW - HOUR, this_update=NOW - HOUR, next_update=NOW + HOUR
        )
    )
    settings = load_settings(
        {
            "TRUSTSTORE_URI": (tmp_path / "ts.pem").as_uri(),
            "CRL_STORE_URI": store.as_uri() + "/",
            "REVOCATION_MODE": "hard-fail",
            "FETCH_MAX_BYTES": "4096",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    runtime = build_runtime(settings)
    response = make_handler(runtime, lambda: NOW)(event(leaf.cert_pem()))
    assert response["context"]["reason"] == "REVOCATION_UNAVAILABLE"
    assert runtime.revocation.too_large == 1
