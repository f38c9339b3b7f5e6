"""Parsing and small facts about X.509 certificates, built on ``cryptography``."""

from __future__ import annotations

import re
from itertools import count
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

# The enums ``cryptography.x509`` itself uses, re-exported by ``serialization``: importing that package also loads
# its SSH key support and ``dataclasses`` (~17 ms of a cold start; docs/decisions.md, decision 17).
from cryptography.hazmat.primitives._serialization import Encoding, PublicFormat
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .reasons import Reason

MAX_PEM_BYTES = 64 * 1024
WEAK_HASHES = (hashes.MD5, hashes.SHA1)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

E = TypeVar("E", bound=x509.ExtensionType)
MAX_TOKENS = 2048
"""Certificate objects given a token at most (then the table starts again: tokens are new, memos miss once)."""
_tokens: dict[int, tuple[x509.Certificate, int]] = {}
_next_token = count()


def token(cert: x509.Certificate) -> int:
    """A small int naming this certificate object, for memo keys: hashing a ``Certificate`` costs ~5 µs (its
    whole DER), an int nothing. A token is never reused; the table holds the object, so its ``id`` cannot pass
    to another while the entry lives. Another object of the same certificate gets another token: a memo miss,
    never a wrong hit."""
    entry = _tokens.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    if len(_tokens) >= MAX_TOKENS:
        _tokens.clear()
    value = next(_next_token)
    _tokens[id(cert)] = (cert, value)
    return value


def load_leaf_pem(pem: str) -> x509.Certificate:
    """Parse one PEM certificate; raise ValueError for anything else."""
    data = pem.encode("ascii", errors="strict") if isinstance(pem, str) else b""
    if not data or len(data) > MAX_PEM_BYTES:
        raise ValueError("certificate PEM is empty or larger than 64 KiB")
    if data.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise ValueError("expected exactly one PEM certificate block")
    cert = load_certificate(data)
    if cert.serial_number <= 0:
        raise ValueError("serial number is not a positive integer (RFC 5280 4.1.2.2)")
    return cert


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Parse a whole PEM bundle strictly (every block must parse); raise ValueError when any does not."""
    return x509.load_pem_x509_certificates(data)


PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


def pem_blocks(data: bytes) -> list[bytes]:
    """Every PEM certificate block of a bundle, in order, unparsed."""
    return PEM_BLOCK.findall(data)


PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
)
"""What ``cryptography`` raises on bytes it cannot read, at load or later from a lazily parsed field."""
KEY_ALGORITHMS: dict[type, tuple[str, ...]] = {
    rsa.RSAPublicKey: ("1.2.840.113549.1.1.",),
    ec.EllipticCurvePublicKey: ("1.2.840.10045.4.",),
    ed25519.Ed25519PublicKey: ("1.3.101.112",),
    ed448.Ed448PublicKey: ("1.3.101.113",),
    dsa.DSAPublicKey: ("1.2.840.10040.4.3", "2.16.840.1.101.3.4.3."),
}
"""Signature algorithm OID arcs that each kind of key can make (RFC 3279, 4055, 5758, 8410)."""


def load_certificate(block: bytes) -> x509.Certificate:
    """Parse one PEM certificate block: the parsing boundary for certificates. Every field ``cryptography``
    reads lazily (version, names, times, extensions, public key, signature algorithm) is read here, and the
    encoding rules of RFC 5280 4.1 are checked; raise ValueError when anything fails."""
    try:
        cert = x509.load_pem_x509_certificate(block)
        problem = structure_problem(cert)
    except PARSE_ERRORS as exc:
        raise ValueError(f"certificate does not parse: {exc.__class__.__name__}: {exc}"[:300]) from None
    if problem:
        raise ValueError(f"certificate is malformed: {problem}")
    return cert


def structure_problem(cert: x509.Certificate) -> str | None:
    """Read every lazily parsed field of ``cert`` (raising what ``cryptography`` raises) and say what breaks
    RFC 5280 4.1: the TBS signature field differs from signatureAlgorithm (4.1.1.2), extensions in a
    certificate that is not v3 (4.1.2.9)."""
    from .der import children
    from .names import canonical

    _ = cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature
    canonical(cert.subject), canonical(cert.issuer), cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    extensions = cert.extensions
    try:
        cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"public key does not parse: {exc}") from None
    if cert.version is not x509.Version.v3 and len(extensions):
        return "extensions in a certificate that is not X.509 v3 (RFC 5280 4.1.2.9)"
    tbs = children(cert.tbs_certificate_bytes)
    inner = tbs[2] if tbs[0][0] == 0xA0 else tbs[1]
    if inner != children(cert.public_bytes(Encoding.DER))[1]:
        return "the TBS signature algorithm differs from signatureAlgorithm (RFC 5280 4.1.1.2)"
    return None


def key_makes(key: object, algorithm: x509.ObjectIdentifier) -> bool:
    """True when ``key``'s kind can make signatures of ``algorithm`` (an ECDSA signature under an RSASSA-PSS
    identifier is not a signature of that algorithm)."""
    arcs = next((arcs for kind, arcs in KEY_ALGORITHMS.items() if isinstance(key, kind)), ())
    return algorithm.dotted_string.startswith(arcs) if arcs else False


def extension(cert: x509.Certificate, kind: type[E]) -> E | None:
    """Return the value of extension ``kind``, or None when absent."""
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert: x509.Certificate) -> bool:
    """True when basicConstraints says CA:TRUE."""
    constraints = extension(cert, x509.BasicConstraints)
    return constraints is not None and constraints.ca


HANDLED_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.INHIBIT_ANY_POLICY,
    }
)
NEVER_CRITICAL = {
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "a critical authorityKeyIdentifier (RFC 5280 4.2.1.1: MUST be non-critical)",
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "a critical subjectKeyIdentifier (RFC 5280 4.2.1.2: MUST be non-critical)",
}


def extension_problem(cert: x509.Certificate) -> str | None:
    """What is wrong with a certificate's extensions (a phrase to follow "has"), or None: AKI and SKI never
    critical, no critical extension this module does not process (RFC 5280 4.2), keyCertSign only with cA
    (4.2.1.3, 4.2.1.9)."""
    for ext in cert.extensions:
        if ext.critical and ext.oid in NEVER_CRITICAL:
            return NEVER_CRITICAL[ext.oid]
        if ext.critical and ext.oid not in HANDLED_CRITICAL:
            return f"an unhandled critical extension {ext.oid.dotted_string}"
    usage = extension(cert, x509.KeyUsage)
    if usage is not None and usage.key_cert_sign and not is_ca(cert):
        return "keyCertSign in keyUsage without basicConstraints cA (RFC 5280 4.2.1.9)"
    return None


def ca_problem(cert: x509.Certificate) -> tuple[Reason, str] | None:
    """The CA profile (RFC 5280 6.1.4 (k), (n), (o) and ``extension_problem``) as (reason, what is wrong, to
    follow the certificate's role); None when ``cert`` may issue client certificates. Strength is checked apart."""
    if not is_ca(cert):
        return Reason.INVALID_CHAIN, "is not a CA (basicConstraints)"
    if not cert.subject.rdns:
        return Reason.INVALID_CHAIN, "has an empty subject (a CA's must name it, RFC 5280 4.1.2.6)"
    usage = extension(cert, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        return Reason.WRONG_KEY_USAGE, "keyUsage lacks keyCertSign"
    purposes = extension(cert, x509.ExtendedKeyUsage)
    allowed = {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    if purposes is not None and not allowed & set(purposes):
        return Reason.WRONG_KEY_USAGE, "extendedKeyUsage excludes clientAuth"
    problem = extension_problem(cert)
    return (Reason.INVALID_CHAIN, f"has {problem}") if problem else None


def key_digest(cert: x509.Certificate) -> bytes:
    """SHA-256 of the certificate's SubjectPublicKeyInfo: names its key, whatever else the certificate claims."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return digest.finalize()


def sha256_hex(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 fingerprint of the DER certificate."""
    return cert.fingerprint(hashes.SHA256()).hex()


def serial_hex(cert: x509.Certificate) -> str:
    """Serial number as lower-case hex without separators."""
    return format(cert.serial_number, "x")


def key_weakness(key: object) -> str | None:
    """Describe why a public key is too weak, or None when it is acceptable."""
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"RSA key of {key.key_size} bits (< {MIN_RSA_BITS})"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        return f"EC key on {key.curve.name} (< {MIN_EC_BITS} bits)"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA key"
    return None


def signature_weakness(cert: x509.Certificate) -> str | None:
    """Describe why the certificate's signature algorithm is weak, or None."""
    try:
        algorithm = cert.signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):
        return f"unsupported signature algorithm {cert.signature_algorithm_oid.dotted_string}"
    if isinstance(algorithm, WEAK_HASHES):
        return f"{algorithm.name} signature"
    return None


Padding = padding.PKCS1v15 | padding.PSS


def verify_signature(
    key: object,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | None,
    rsa_padding: Padding | None = None,
) -> None:
    """Verify an RSA (PKCS#1 v1.5 or PSS), ECDSA, DSA or EdDSA signature; raise InvalidSignature on any mismatch."""
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, rsa_padding or padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)) and algorithm is None:
            key.verify(signature, data)
        else:
            raise InvalidSignature("unsupported key or signature algorithm")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidSignature(str(exc)) from exc


Signed = x509.Certificate | x509.CertificateRevocationList


def signed_with(item: Signed, key: object) -> bool:
    """True when ``key`` made the signature of a certificate or CRL under the algorithm it names (names are not
    compared here)."""
    try:
        if not key_makes(key, item.signature_algorithm_oid):
            return False
        parameters = item.signature_algorithm_parameters
        algorithm = item.signature_hash_algorithm
        data = item.tbs_certificate_bytes if isinstance(item, x509.Certificate) else item.tbs_certlist_bytes
        verify_signature(key, item.signature, data, algorithm, parameters if isinstance(parameters, Padding) else None)
    except (InvalidSignature, *PARSE_ERRORS):
        return False
    return True


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s name (RFC 5280 7.1) and key signed ``child``."""
    from .names import same_name

    return same_name(child.issuer, issuer.subject) and signed_with(child, issuer.public_key())
