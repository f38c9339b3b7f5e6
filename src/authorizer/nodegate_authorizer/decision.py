"""The decision pipeline: certificate path, then revocation, then identity, then policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from cryptography import x509

from .access_policy import AccessPolicy, Grant, authorize
from .certificates import load_leaf_pem, serial_hex, sha256_hex, token
from .chain import PathPolicy, build_path
from .event import AuthRequest
from .identity import Identity, IdentityRule, extract_identity, valid_id
from .identity_rules import identify
from .reasons import Denied, Reason
from .revocation.answers import RevocationOutcome
from .truststore import Truststore

CheckRevocation = Callable[[Sequence[x509.Certificate], datetime, Truststore], RevocationOutcome]


class DecisionInputs(NamedTuple):
    """Everything a decision reads besides the request: all parsed, with revocation behind one call."""

    truststore: Truststore
    path_policy: PathPolicy
    identity_rule: IdentityRule
    access_policy: AccessPolicy
    check_revocation: CheckRevocation


class Allowed(NamedTuple):
    """An Allow, with what the response, the log and ``nodegate explain`` need."""

    identity: Identity
    grant: Grant
    certificate: dict[str, str]
    revocation: RevocationOutcome
    path: tuple[x509.Certificate, ...]


@lru_cache(maxsize=512)  # up to 64 KiB of PEM each: bounded in bytes too
def _parse_leaf(pem: str) -> tuple[x509.Certificate, dict[str, str]]:
    """Parse a client PEM once per distinct PEM (parsing is pure; failures are not cached)."""
    leaf = load_leaf_pem(pem)
    return leaf, {"clientCertSerial": serial_hex(leaf), "clientCertSha256": sha256_hex(leaf)}


def validate_certificate(
    leaf: x509.Certificate, inputs: DecisionInputs, now: datetime
) -> tuple[tuple[x509.Certificate, ...], RevocationOutcome]:
    """The certificate steps of a decision: the path (raise Denied when there is none), then its revocation
    outcome (whose ``refusal`` says whether it refuses)."""
    path = build_path(leaf, inputs.truststore, now, inputs.path_policy)
    return path, inputs.check_revocation(path, now, inputs.truststore)


MAX_IDENTITIES = 2048
"""Identities kept (then the memo starts again); keyed by certificate tokens, so they keep no certificate alive."""
_identities: dict[tuple[int, int], Identity] = {}
_read_under: list[tuple[object, ...]] = []
"""The objects the kept identities were read under: one set, so a superseded truststore or policy is not kept."""


def identity_of(leaf: x509.Certificate, path: tuple[x509.Certificate, ...], inputs: DecisionInputs) -> Identity:
    """The leaf's identity under the access policy's identity rules (chosen by the issuing CA), else the default
    rule; raise Denied. An identity depends on the leaf, the issuing CA and the rules in force, never on the clock:
    it is kept per (leaf, issuer) while the very same rule, rules and truststore objects are in force, and all are
    forgotten when one changes. Refusals are not kept."""
    rules = inputs.access_policy.identity_rules
    under = (inputs.identity_rule, rules, inputs.truststore)
    if not _read_under or any(a is not b for a, b in zip(_read_under[0], under, strict=True)):
        _identities.clear()
        _read_under[:] = [under]
    key = (token(leaf), token(path[1]) if rules is not None else 0)
    identity = _identities.get(key)
    if identity is None:
        if rules is None:
            identity = extract_identity(leaf, inputs.identity_rule)
        else:
            identity = identify(leaf, path[1], rules, inputs.identity_rule, inputs.truststore)
        if len(_identities) >= MAX_IDENTITIES:
            _identities.clear()
        _identities[key] = identity
    return identity


class Refused(NamedTuple):
    """A Deny: the reason for the client, the detail for the log, and the certificate facts known by then."""

    reason: Reason
    detail: str
    certificate: Mapping[str, str] = MappingProxyType({})
    path: tuple[x509.Certificate, ...] = ()
    revocation: RevocationOutcome | None = None


Decision = Allowed | Refused


def decide(request: AuthRequest, inputs: DecisionInputs, now: datetime) -> Decision:
    """Allowed, or Refused with the first failing step's reason."""
    if not request.client_cert_pem:
        return Refused(Reason.NO_CLIENT_CERT, "no client certificate in requestContext.identity.clientCert")
    try:
        leaf, facts = _parse_leaf(request.client_cert_pem)
    except (ValueError, UnicodeError) as exc:  # load_certificate turns every cryptography error into ValueError
        return Refused(Reason.MALFORMED_CERT, f"client certificate does not parse: {exc}")
    path: tuple[x509.Certificate, ...] = ()
    revocation: RevocationOutcome | None = None
    try:
        path, revocation = validate_certificate(leaf, inputs, now)
        if revocation.refusal:
            raise Denied(*revocation.refusal)
        identity = identity_of(leaf, path, inputs)
        if not valid_id(request.node_id, inputs.identity_rule):
            raise Denied(Reason.BAD_REQUEST, f"path node id {request.node_id[:80]!r} does not match the id pattern")
        grant = authorize(identity, request.node_id, request.method, inputs.access_policy)
    except Denied as denied:
        return Refused(denied.reason, denied.detail, dict(facts), path, revocation)
    return Allowed(identity=identity, grant=grant, certificate=dict(facts), revocation=revocation, path=path)
