"""Public PKI files from user input: a truststore bundle (only CERTIFICATE blocks pass) and CRL files (DER or
one X509 CRL block). What is published is what parsed, re-encoded, never the file as it came (a CA's private
key pasted after its certificate or CRL, a key saved as ``*.crl``, a comment, a half block: none of it reaches
a public bucket)."""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from nodegate.pki.authority import pem
from nodegate_authorizer.certificates import PEM_BLOCK, load_certificate

PEM_BEGIN = re.compile(rb"-----BEGIN ([^\r\n]*?)-----")
NAMES = {"CERTIFICATE": "a certificate", "X509 CRL": "a CRL"}


class BundleError(ValueError):
    """The bundle holds something that must not be published; the message names it, one line."""


def foreign_blocks(data: bytes, wanted: str = "CERTIFICATE", public: str = "the truststore") -> list[str]:
    """One line for each PEM block that is not a whole ``wanted`` block (RFC 7468 sections 5 and 7), by line
    number: a private key (``public`` names what would publish it), any other label, an unterminated
    CERTIFICATE block (an unterminated CRL block does not parse)."""
    problems = []
    for begin in PEM_BEGIN.finditer(data):
        line = data.count(b"\n", 0, begin.start()) + 1
        label = begin.group(1).decode("ascii", errors="replace")
        if "PRIVATE KEY" in label:
            problems.append(
                f"line {line}: a {label} block: {public} is public, remove the key from the file "
                "(and treat the key as exposed if the file was shared)"
            )
        elif label != wanted:
            problems.append(f"line {line}: a {label} block is not {NAMES.get(wanted, wanted)}: remove it")
        elif label == "CERTIFICATE" and not PEM_BLOCK.match(data, begin.start()):
            problems.append(f"line {line}: a CERTIFICATE block with no END CERTIFICATE line")
    return problems


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
    return pem(*certs)


def public_crl(data: bytes, source: str) -> bytes:
    """The CRL in ``data`` (DER, or one PEM ``X509 CRL`` block: RFC 5280 5, RFC 7468 7) re-encoded as DER;
    raise BundleError (one line) for anything else: a key, another block, a second CRL, bytes that do not parse."""
    labels = PEM_BEGIN.findall(data)
    problems = foreign_blocks(data, "X509 CRL", "the CRL store")
    if len(labels) > 1:
        problems.append(f"{len(labels)} PEM blocks: one X509 CRL block a file")
    if not problems:
        try:
            crl = x509.load_pem_x509_crl(data) if labels else x509.load_der_x509_crl(data)
            return crl.public_bytes(Encoding.DER)
        except ValueError as exc:
            problems.append(f"not a CRL (DER or one PEM X509 CRL block): {str(exc)[:200]}")
    raise BundleError(f"{source}: {'; '.join(problems)}")
