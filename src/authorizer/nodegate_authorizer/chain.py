"""Certificate path: build it from a certificate to a truststore anchor and validate it (RFC 5280 6.1).

Basic path processing, name chaining (7.1), self-issued certificates, name constraints and certificate
policies follow RFC 5280, the anchor's own constraints RFC 5937; two rules go beyond it on purpose and are
named in PathPolicy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certificates import (
    ca_problem,
    extension,
    extension_problem,
    is_ca,
    issued_by,
    key_weakness,
    signature_weakness,
    token,
)
from .name_constraints import NameConstraintError, check_names, constraints_of, names_of
from .names import is_self_issued
from .policies import PolicyError, PolicyInputs, process_policies
from .reasons import Denied, Reason
from .truststore import Truststore


class Role:
    """What the certificate at the bottom of the path is for; each role has its own end-entity rules."""

    CLIENT = "client"
    CRL_SIGNER = "crl-signer"


class PathPolicy(NamedTuple):
    """What a valid path must satisfy. Every rule is explicit; there are no hidden defaults.

    ``refuse_ca_leaf`` and ``refuse_weak_crypto`` are the deliberate deviations from RFC 5280 (see
    docs/conformance.md): a client certificate must not be a CA, and DSA, SHA-1/MD5 and short keys are refused.
    ``refuse_v1_leaf`` (the profile pyca's verifier enforces) is off: decision 1 in docs/decisions.md accepts
    the v1 client certificates ``openssl x509 -req`` makes; a v1 certificate can never act as a CA here.
    ``require_authority_key_id`` is RFC 5280 4.2.1.1 (a v3 end certificate names its issuer's key; pyca agrees,
    and every PKITS certificate does): on, it is a switch only for a PKI that omits it."""

    max_intermediates: int = 6
    require_client_auth_eku_when_present: bool = True
    refuse_ca_leaf: bool = True
    refuse_weak_crypto: bool = True
    refuse_v1_leaf: bool = False
    require_authority_key_id: bool = True
    policies: PolicyInputs = PolicyInputs()


def build_path(
    leaf: x509.Certificate, store: Truststore, now: datetime, policy: PathPolicy, role: str = Role.CLIENT
) -> tuple[x509.Certificate, ...]:
    """Return the first valid path ``(leaf, ..., anchor)``; raise Denied with the most telling reason.

    Everything but the validity windows depends only on the certificates, so it is memoised per truststore."""
    leaf_token = token(leaf)
    problem = store.remember(("leaf", leaf_token, policy, role), lambda: _leaf_problem(leaf, policy, role))
    if problem:
        raise problem
    failures: list[Denied] = []
    paths = store.remember(
        ("paths", leaf_token, policy), lambda: _candidate_paths(leaf, store, policy.max_intermediates)
    )
    for path in paths:
        problem = _time_problem(path, now) or store.remember(
            ("structure", tuple(map(token, path)), policy), partial(_structure_problem, path, policy)
        )
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


def _weakness(cert: x509.Certificate, policy: PathPolicy) -> str | None:
    if not policy.refuse_weak_crypto:
        return None
    return signature_weakness(cert) or key_weakness(cert.public_key())


def _leaf_problem(leaf: x509.Certificate, policy: PathPolicy, role: str) -> Denied | None:
    """Checks on the end certificate alone: strength, issuance rules, role and key usage."""
    weakness = _weakness(leaf, policy)
    if weakness:
        return Denied(Reason.WEAK_CRYPTO, f"leaf: {weakness}")
    if policy.refuse_v1_leaf and leaf.version is not x509.Version.v3:
        return Denied(Reason.WRONG_KEY_USAGE, f"end certificate is X.509 {leaf.version.name}, not v3")
    label = "CRL signer" if role == Role.CRL_SIGNER else "leaf"
    problem = _issuance_problem(leaf, policy)
    if problem:
        return Denied(Reason.INVALID_CHAIN, f"{label} has {problem}")
    usage = extension(leaf, x509.KeyUsage)
    if role == Role.CRL_SIGNER:
        if usage is not None and not usage.crl_sign:
            return Denied(Reason.WRONG_KEY_USAGE, "CRL signer keyUsage lacks cRLSign")
        return None
    if policy.refuse_ca_leaf and is_ca(leaf):
        return Denied(Reason.WRONG_KEY_USAGE, "leaf is a CA certificate")
    if usage is not None and not usage.digital_signature:
        return Denied(Reason.WRONG_KEY_USAGE, "leaf keyUsage lacks digitalSignature")
    purposes = extension(leaf, x509.ExtendedKeyUsage)
    if (
        purposes is not None
        and policy.require_client_auth_eku_when_present
        and ExtendedKeyUsageOID.CLIENT_AUTH not in purposes
    ):
        return Denied(Reason.WRONG_KEY_USAGE, "leaf extendedKeyUsage lacks clientAuth")
    return None


def _issuance_problem(leaf: x509.Certificate, policy: PathPolicy) -> str | None:
    """RFC 5280 rules for an end certificate's extensions (a phrase to follow "has"), or None."""
    problem = extension_problem(leaf)
    if problem:
        return problem
    if not is_ca(leaf) and extension(leaf, x509.NameConstraints) is not None:
        return "nameConstraints, which only a CA certificate may carry (RFC 5280 4.2.1.10)"
    if (
        policy.require_authority_key_id
        and leaf.version is x509.Version.v3
        and extension(leaf, x509.AuthorityKeyIdentifier) is None
        and not issued_by(leaf, leaf)
    ):
        return "no authorityKeyIdentifier (RFC 5280 4.2.1.1: MUST be present but in self-signed certificates)"
    return None


def _role(depth: int, length: int) -> str:
    return "leaf" if depth == 0 else "anchor" if depth == length - 1 else f"intermediate {depth}"


def _time_problem(path: Sequence[x509.Certificate], now: datetime) -> Denied | None:
    """Validity windows of every certificate of the path at ``now``, to the second: a certificate's times have
    no fractions (RFC 5280 4.1.2.5.1-2), so 12:00:00.005 is still within a notAfter of 12:00:00."""
    now = now.replace(microsecond=0)
    for depth, cert in enumerate(path):
        if now < cert.not_valid_before_utc:
            role = _role(depth, len(path))
            return Denied(Reason.NOT_YET_VALID, f"{role} not valid before {cert.not_valid_before_utc.isoformat()}")
        if now > cert.not_valid_after_utc:
            return Denied(
                Reason.EXPIRED, f"{_role(depth, len(path))} expired at {cert.not_valid_after_utc.isoformat()}"
            )
    return None


def _structure_problem(path: Sequence[x509.Certificate], policy: PathPolicy) -> Denied | None:
    """RFC 5280 6.1.3-6.1.5 over the path, top intermediate first: CA rules, path length, key usage,
    name constraints and policies (signatures and names were checked while building it).

    The anchor's own pathLenConstraint, nameConstraints and policy constraints bind the path below it, as
    RFC 5937 3 lets a trust anchor constrain its paths (and OpenSSL, Go and pyca do); its other extensions
    were checked when the truststore was loaded (``truststore.anchor_problem``)."""
    anchor = path[-1]
    below_anchor = list(reversed(path[:-1]))
    n = len(below_anchor)
    limit = extension(anchor, x509.BasicConstraints)
    max_path_length = n if limit is None or limit.path_length is None else min(n, limit.path_length)
    constraints = [c for c in (constraints_of(anchor),) if c is not None]
    for i, cert in enumerate(below_anchor, start=1):
        depth = n - i
        role = _role(depth, len(path))
        self_issued = is_self_issued(cert)
        if i == n or not self_issued:
            try:
                check_names(names_of(cert), constraints)
            except NameConstraintError as exc:
                return Denied(Reason.INVALID_CHAIN, f"{role}: {exc}")
        if i == n:
            break
        problem = _ca_problem(cert, role, policy)
        if problem:
            return problem
        if not self_issued:
            if max_path_length <= 0:
                return Denied(Reason.INVALID_CHAIN, f"{role}: path length constraint exceeded")
            max_path_length -= 1
        path_length = extension(cert, x509.BasicConstraints).path_length  # type: ignore[union-attr]
        if path_length is not None:
            max_path_length = min(max_path_length, path_length)
        own = constraints_of(cert)
        if own is not None:
            constraints.append(own)
    try:
        process_policies(below_anchor, policy.policies, anchor)
    except PolicyError as exc:
        return Denied(Reason.INVALID_CHAIN, f"certificate policies: {exc}")
    return None


def _ca_problem(ca: x509.Certificate, role: str, policy: PathPolicy) -> Denied | None:
    """6.1.4 (k), (n), (o) for one intermediate (the CA profile), and its strength."""
    weakness = _weakness(ca, policy)
    if weakness:
        return Denied(Reason.WEAK_CRYPTO, f"{role}: {weakness}")
    problem = ca_problem(ca)
    return Denied(problem[0], f"{role} {problem[1]}") if problem else None
