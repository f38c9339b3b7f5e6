"""Parsing and small facts about X.509 certificates, built on ``cryptography``."""

from __future__ import annotations

from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

MAX_PEM_BYTES = 64 * 1024
WEAK_HASHES = (hashes.MD5, hashes.SHA1)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

E = TypeVar("E", bound=x509.ExtensionType)


def load_leaf_pem(pem: str) -> x509.Certificate:
    """Parse one PEM certificate; raise ValueError for anything else."""
    data = pem.encode("ascii", errors="strict") if isinstance(pem, str) else b""
    if not data or len(data) > MAX_PEM_BYTES:
        raise ValueError("certificate PEM is empty or larger than 64 KiB")
    if data.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise ValueError("expected exactly one PEM certificate block")
    cert = x509.load_pem_x509_certificate(data)
    if cert.serial_number <= 0:
        raise ValueError("serial number is not positive (RFC 5280 4.1.2.2)")
    return cert


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Parse a PEM bundle of one or more certificates; raise ValueError when there is none."""
    return x509.load_pem_x509_certificates(data)


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
    except UnsupportedAlgorithm:
        return f"unsupported signature algorithm {cert.signature_algorithm_oid.dotted_string}"
    if isinstance(algorithm, WEAK_HASHES):
        return f"{algorithm.name} signature"
    return None


def verify_signature(key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None) -> None:
    """Verify a PKCS#1 v1.5, ECDSA or EdDSA signature; raise InvalidSignature on any mismatch."""
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)) and algorithm is None:
            key.verify(signature, data)
        else:
            raise InvalidSignature("unsupported key or signature algorithm")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidSignature(str(exc)) from exc


def issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s name and key signed ``child``."""
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True
