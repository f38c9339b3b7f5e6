"""Certificate path: build it from the leaf to a truststore anchor and validate it (RFC 5280 subset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .certificates import extension, is_ca, key_weakness, signature_weakness
from .reasons import Denied, Reason
from .truststore import Truststore

HANDLED_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)


@dataclass(frozen=True)
class PathPolicy:
    """What a valid client path must satisfy. Every rule is explicit; there are no hidden defaults."""

    max_intermediates: int = 4
    require_client_auth_eku_when_present: bool = True


def build_path(
    leaf: x509.Certificate, store: Truststore, now: datetime, policy: PathPolicy
) -> tuple[x509.Certificate, ...]:
    """Return the first valid path ``(leaf, ..., anchor)``; raise Denied with the most telling reason."""
    _check_leaf(leaf, policy)
    failures: list[Denied] = []
    for path in _candidate_paths(leaf, store, policy.max_intermediates):
        try:
            _validate(path, now)
        except Denied as denied:
            failures.append(denied)
            continue
        return path
    if failures:
        raise failures[0]
    raise Denied(Reason.UNTRUSTED_ISSUER, f"no truststore CA signed {leaf.issuer.rfc4514_string()!r}")


def _candidate_paths(
    leaf: x509.Certificate, store: Truststore, max_intermediates: int
) -> list[tuple[x509.Certificate, ...]]:
    """Every signature-linked path from ``leaf`` to an anchor, shortest first, without loops."""
    found: list[tuple[x509.Certificate, ...]] = []
    frontier: list[tuple[x509.Certificate, ...]] = [(leaf,)]
    while frontier:
        path = frontier.pop(0)
        for issuer in store.issuers_of(path[-1]):
            if issuer in path or not store.signed(path[-1], issuer):
                continue
            extended = (*path, issuer)
            if store.is_anchor(issuer):
                found.append(extended)
            elif len(extended) - 1 <= max_intermediates:
                frontier.append(extended)
    return found


def _check_leaf(leaf: x509.Certificate, policy: PathPolicy) -> None:
    """Checks on the leaf alone: strength, role and key usage."""
    weakness = signature_weakness(leaf) or key_weakness(leaf.public_key())
    if weakness:
        raise Denied(Reason.WEAK_CRYPTO, f"leaf: {weakness}")
    if is_ca(leaf):
        raise Denied(Reason.WRONG_KEY_USAGE, "leaf is a CA certificate")
    usage = extension(leaf, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        raise Denied(Reason.WRONG_KEY_USAGE, "leaf keyUsage lacks digitalSignature")
    purposes = extension(leaf, x509.ExtendedKeyUsage)
    if (
        purposes is not None
        and policy.require_client_auth_eku_when_present
        and ExtendedKeyUsageOID.CLIENT_AUTH not in purposes
    ):
        raise Denied(Reason.WRONG_KEY_USAGE, "leaf extendedKeyUsage lacks clientAuth")
    _check_critical(leaf, "leaf")


def _check_critical(cert: x509.Certificate, role: str) -> None:
    for ext in cert.extensions:
        if ext.critical and ext.oid not in HANDLED_CRITICAL:
            raise Denied(Reason.INVALID_CHAIN, f"{role}: unhandled critical extension {ext.oid.dotted_string}")


def _check_validity(cert: x509.Certificate, now: datetime, role: str) -> None:
    if now < cert.not_valid_before_utc:
        raise Denied(Reason.NOT_YET_VALID, f"{role} not valid before {cert.not_valid_before_utc.isoformat()}")
    if now > cert.not_valid_after_utc:
        raise Denied(Reason.EXPIRED, f"{role} expired at {cert.not_valid_after_utc.isoformat()}")


def _validate(path: Sequence[x509.Certificate], now: datetime) -> None:
    """Validity, CA constraints, path length, key usage and strength of every certificate."""
    _check_validity(path[0], now, "leaf")
    for depth, ca in enumerate(path[1:], start=1):
        role = "anchor" if depth == len(path) - 1 else f"intermediate {depth}"
        _check_validity(ca, now, role)
        weakness = key_weakness(ca.public_key())
        if depth < len(path) - 1:
            weakness = weakness or signature_weakness(ca)
        if weakness:
            raise Denied(Reason.WEAK_CRYPTO, f"{role}: {weakness}")
        constraints = extension(ca, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise Denied(Reason.INVALID_CHAIN, f"{role} is not a CA (basicConstraints)")
        below = depth - 1
        if constraints.path_length is not None and below > constraints.path_length:
            raise Denied(Reason.INVALID_CHAIN, f"{role} pathLen {constraints.path_length} < {below}")
        usage = extension(ca, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            raise Denied(Reason.WRONG_KEY_USAGE, f"{role} keyUsage lacks keyCertSign")
        purposes = extension(ca, x509.ExtendedKeyUsage)
        if purposes is not None and not {
            ExtendedKeyUsageOID.CLIENT_AUTH,
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        } & set(purposes):
            raise Denied(Reason.WRONG_KEY_USAGE, f"{role} extendedKeyUsage excludes clientAuth")
        _check_critical(ca, role)
