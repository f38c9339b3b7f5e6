"""Certificate path: build it from the leaf to a truststore anchor and validate it (RFC 5280 subset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

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
    """Return the first valid path ``(leaf, ..., anchor)``; raise Denied with the most telling reason.

    Everything but the validity windows depends only on the certificates, so it is memoised per truststore."""
    problem = store.remember(("leaf", leaf, policy), lambda: _leaf_problem(leaf, policy))
    if problem:
        raise problem
    failures: list[Denied] = []
    paths = store.remember(("paths", leaf, policy), lambda: _candidate_paths(leaf, store, policy.max_intermediates))
    for path in paths:
        problem = _time_problem(path, now) or store.remember(("structure", path), partial(_structure_problem, path))
        if problem is None:
            return path
        failures.append(problem)
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


def _leaf_problem(leaf: x509.Certificate, policy: PathPolicy) -> Denied | None:
    """Checks on the leaf alone: strength, role and key usage."""
    weakness = signature_weakness(leaf) or key_weakness(leaf.public_key())
    if weakness:
        return Denied(Reason.WEAK_CRYPTO, f"leaf: {weakness}")
    if is_ca(leaf):
        return Denied(Reason.WRONG_KEY_USAGE, "leaf is a CA certificate")
    usage = extension(leaf, x509.KeyUsage)
    if usage is not None and not usage.digital_signature:
        return Denied(Reason.WRONG_KEY_USAGE, "leaf keyUsage lacks digitalSignature")
    purposes = extension(leaf, x509.ExtendedKeyUsage)
    if (
        purposes is not None
        and policy.require_client_auth_eku_when_present
        and ExtendedKeyUsageOID.CLIENT_AUTH not in purposes
    ):
        return Denied(Reason.WRONG_KEY_USAGE, "leaf extendedKeyUsage lacks clientAuth")
    return _critical_problem(leaf, "leaf")


def _critical_problem(cert: x509.Certificate, role: str) -> Denied | None:
    for ext in cert.extensions:
        if ext.critical and ext.oid not in HANDLED_CRITICAL:
            return Denied(Reason.INVALID_CHAIN, f"{role}: unhandled critical extension {ext.oid.dotted_string}")
    return None


def _role(depth: int, length: int) -> str:
    return "leaf" if depth == 0 else "anchor" if depth == length - 1 else f"intermediate {depth}"


def _time_problem(path: Sequence[x509.Certificate], now: datetime) -> Denied | None:
    """Validity windows of every certificate of the path at ``now``."""
    for depth, cert in enumerate(path):
        if now < cert.not_valid_before_utc:
            role = _role(depth, len(path))
            return Denied(Reason.NOT_YET_VALID, f"{role} not valid before {cert.not_valid_before_utc.isoformat()}")
        if now > cert.not_valid_after_utc:
            return Denied(
                Reason.EXPIRED, f"{_role(depth, len(path))} expired at {cert.not_valid_after_utc.isoformat()}"
            )
    return None


def _structure_problem(path: Sequence[x509.Certificate]) -> Denied | None:
    """CA constraints, path length, key usage and strength of every issuer in the path."""
    for depth, ca in enumerate(path[1:], start=1):
        role = _role(depth, len(path))
        weakness = key_weakness(ca.public_key())
        if depth < len(path) - 1:
            weakness = weakness or signature_weakness(ca)
        if weakness:
            return Denied(Reason.WEAK_CRYPTO, f"{role}: {weakness}")
        constraints = extension(ca, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            return Denied(Reason.INVALID_CHAIN, f"{role} is not a CA (basicConstraints)")
        below = depth - 1
        if constraints.path_length is not None and below > constraints.path_length:
            return Denied(Reason.INVALID_CHAIN, f"{role} pathLen {constraints.path_length} < {below}")
        usage = extension(ca, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            return Denied(Reason.WRONG_KEY_USAGE, f"{role} keyUsage lacks keyCertSign")
        purposes = extension(ca, x509.ExtendedKeyUsage)
        allowed = {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
        if purposes is not None and not allowed & set(purposes):
            return Denied(Reason.WRONG_KEY_USAGE, f"{role} extendedKeyUsage excludes clientAuth")
        problem = _critical_problem(ca, role)
        if problem:
            return problem
    return None
