"""A truststore bundle from user input: only CERTIFICATE blocks pass, and what is published is those
certificates re-encoded, never the file as it came (a CA's private key pasted after its certificate, a
comment, a half block: none of it reaches the public truststore bucket)."""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from nodegate_authorizer.certificates import PEM_BLOCK, load_certificate

PEM_BEGIN = re.compile(rb"-----BEGIN ([^\r\n]*?)-----")


class BundleError(ValueError):
    """The bundle holds something that must not be published; the message names it, one line."""


def foreign_blocks(data: bytes) -> list[str]:
    """One line for each PEM block that is not a whole CERTIFICATE block (RFC 7468 section 5), by line number:
    a private key, a CRL, a request, a TRUSTED CERTIFICATE, an unterminated block."""
    problems = []
    for begin in PEM_BEGIN.finditer(data):
        line = data.count(b"\n", 0, begin.start()) + 1
        label = begin.group(1).decode("ascii", errors="replace")
        if "PRIVATE KEY" in label:
            problems.append(
                f"line {line}: a {label} block: the truststore is public, remove the key from the bundle "
                "(and treat the key as exposed if the bundle was shared)"
            )
        elif label != "CERTIFICATE":
            problems.append(f"line {line}: a {label} block is not a certificate: remove it")
        elif not PEM_BLOCK.match(data, begin.start()):
            problems.append(f"line {line}: a CERTIFICATE block with no END CERTIFICATE line")
    return problems


def certificates_pem(certs: list[x509.Certificate]) -> bytes:
    """The certificates re-encoded as PEM, one block each, nothing else."""
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in certs)


def public_bundle(data: bytes, source: str) -> bytes:
    """The bundle's certificates re-encoded; raise BundleError (one line) when it holds any other block or a
    certificate block that does not parse."""
    problems = foreign_blocks(data)
    certs = []
    for number, block in enumerate(PEM_BLOCK.findall(data), start=1):
        try:
            certs.append(load_certificate(block))
        except ValueError as exc:
            problems.append(f"certificate {number} does not parse: {str(exc)[:200]}")
    if problems or not certs:
        raise BundleError(f"{source}: {'; '.join(problems) or 'no PEM certificate block'}")
    return certificates_pem(certs)
