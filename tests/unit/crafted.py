"""Certificates crafted byte by byte for tests: names and constraints encoded by hand (DER) so that malformed
ones can be made, and extension defects no honest CA would issue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID

from fixed import T0
from nodegate.pki.authority import CA_USAGE

TAGS = {"dns": 0x82, "email": 0x81, "uri": 0x86, "ip": 0x87}
UNKNOWN = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")
CLIENT_ONLY = x509.KeyUsage(True, False, False, False, False, False, False, False, False)


def der(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = (
        bytes([size]) if size < 128 else bytes([0x81, size]) if size < 256 else bytes([0x82, size >> 8, size & 255])
    )
    return bytes([tag]) + length + content


def general_name(form: str, value: bytes | x509.Name) -> bytes:
    if isinstance(value, x509.Name):
        return der(0xA4, value.public_bytes())
    return der(TAGS[form], value)


def raw_alt_names(names: list[bytes]) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, der(0x30, b"".join(names)))


def raw_constraints(permitted: list[bytes], excluded: list[bytes]) -> x509.UnrecognizedExtension:
    body = b"".join(
        der(tag, b"".join(der(0x30, subtree) for subtree in subtrees))
        for tag, subtrees in ((0xA0, permitted), (0xA1, excluded))
        if subtrees
    )
    return x509.UnrecognizedExtension(ExtensionOID.NAME_CONSTRAINTS, der(0x30, body))


DEFECTS = [
    "basicConstraints not critical",
    "keyUsage without keyCertSign",
    "keyCertSign without cA",
    "no AKI",
    "critical AKI",
    "critical SKI",
    "unknown critical extension",
    "extendedKeyUsage serverAuth only",
]
"""What ``make`` can get wrong on purpose."""


def make(
    subject: x509.Name,
    key: Any,
    issuer: x509.Name,
    issuer_key: Any,
    *,
    ca: bool,
    defects: Collection[str] = (),
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate with exactly the extensions asked for, the defects (and an anchor's "pathLen 0") applied."""
    usage = CA_USAGE if ca else CLIENT_ONLY
    if "keyUsage without keyCertSign" in defects:
        usage = x509.KeyUsage(True, False, False, False, False, False, True, False, False)
    if "keyCertSign without cA" in defects:
        usage = x509.KeyUsage(True, False, False, False, False, True, False, False, False)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=3650))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), "critical SKI" in defects)
        .add_extension(
            x509.BasicConstraints(ca, 0 if ca and "pathLen 0" in defects else None),
            "basicConstraints not critical" not in defects,
        )
        .add_extension(usage, True)
    )
    if "no AKI" not in defects:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        builder = builder.add_extension(aki, "critical AKI" in defects)
    if "unknown critical extension" in defects:
        builder = builder.add_extension(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)
    if "extendedKeyUsage serverAuth only" in defects:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical)
    return builder.sign(issuer_key, hashes.SHA256())
