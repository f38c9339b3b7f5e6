"""Large CRLs, fast: a CA's CRL with millions of entries, signed, in seconds (the builder needs minutes); and
edited CRLs signed again.

The CRL is made by ``cryptography``'s builder with one entry, then its revokedCertificates are replaced by
DER written here and the new tbsCertList is signed with the CA's key. Used by the bench and the scale tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from nodegate.pki.authority import CertificateAuthority, PrivateKey
from nodegate_authorizer.der import children
from nodegate_authorizer.revocation.revoked import serial_tlv

REASON_KEY_COMPROMISE = bytes.fromhex("300c300a0603551d1504030a0101")
"""One crlEntryExtensions value: reasonCode keyCompromise, non-critical (RFC 5280 5.3.1)."""


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _time(moment: dt.datetime) -> bytes:
    return _tlv(0x17, moment.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ").encode())


def _sign(ca_key: PrivateKey, tbs: bytes, algorithm: bytes) -> bytes:
    if isinstance(ca_key, ec.EllipticCurvePrivateKey):
        signature = ca_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    else:
        signature = ca_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def resigned(der: bytes, key: PrivateKey) -> bytes:
    """A DER CRL (SHA-256 signed) whose tbsCertList was edited, signed again with ``key``."""
    tbs, algorithm, _ = children(der)
    return _sign(key, tbs, algorithm)


def large_crl_der(
    ca: CertificateAuthority,
    serials: Iterable[int],
    *,
    revoked_at: dt.datetime,
    reason_every: int = 10,
    this_update: dt.datetime,
    next_update: dt.datetime,
    number: int = 1,
) -> bytes:
    """A DER CRL of ``ca`` listing ``serials`` in order; every ``reason_every``-th entry carries a reason code
    (0: none do). Serials must be positive and below 2**159, as in certificates."""
    template = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(1).revocation_date(revoked_at).build())
        .sign(ca.key, hashes.SHA256())
    )
    when = _time(revoked_at)
    reasons = {True: REASON_KEY_COMPROMISE, False: b""}
    entries = b"".join(
        _tlv(0x30, serial_tlv(serial) + when + reasons[bool(reason_every) and i % reason_every == 0])
        for i, serial in enumerate(serials)
    )
    fields = children(template.tbs_certlist_bytes)
    listed = next(i for i, field in enumerate(fields) if i > 2 and field[0] == 0x30)
    fields[listed] = _tlv(0x30, entries)
    algorithm = children(template.public_bytes(serialization.Encoding.DER))[1]
    return _sign(ca.key, _tlv(0x30, b"".join(fields)), algorithm)
