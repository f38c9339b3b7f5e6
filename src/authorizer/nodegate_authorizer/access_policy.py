"""Access policy: which nodes and methods a user may call, beyond the node its certificate names."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from .identity import Identity, IdentityRule, valid_id
from .identity_rules import IdentityRules, RuleError, parse_rules
from .reasons import Denied, Reason

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})
MAX_POLICY_BYTES = 1024 * 1024


class PolicyError(ValueError):
    """The policy document is not valid; every request is denied until it is fixed."""


class Grant(NamedTuple):
    """Methods one user may call on one node (``*`` means every method)."""

    node_id: str
    methods: frozenset[str]


class AccessPolicy(NamedTuple):
    """Extra grants per user, and users whose certificates are refused outright.

    ``disabled_users`` are kept case-folded and matched without regard to case (LDAP's uid is case-insensitive,
    so ``Mallory`` must not dodge a ban on ``mallory``); grants match exactly, so a grant never reaches more
    than it names."""

    grants: Mapping[str, tuple[Grant, ...]] = MappingProxyType({})
    disabled_users: frozenset[str] = frozenset()
    identity_rules: IdentityRules | None = None
    """Where ids come from per issuing CA; None: the subject attributes of the settings, for every CA."""


DEFAULT_POLICY = AccessPolicy()
"""With no ACCESS_POLICY_URI: each certificate may call only its own node."""


def parse_policy(data: bytes, rule: IdentityRule) -> AccessPolicy:
    """Parse and check a version-1 JSON policy; raise PolicyError naming the first problem, and nothing else.

    ``{"version": 1, "disabledUsers": ["mallory"],
       "grants": [{"user": "alice", "nodes": ["node-2"], "methods": ["GET"]}],
       "identityRules": [...]}`` (``identity_rules.parse_rules``; docs/access-policy.schema.json)
    """
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError("policy document is larger than 1 MiB")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PolicyError(f"policy is not JSON: {exc}") from None
    try:
        return read_policy(doc, rule)
    except PolicyError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: a document the checks missed is refused, never a crash
        raise PolicyError(f"policy cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_policy(doc: object, rule: IdentityRule) -> AccessPolicy:
    """The policy a parsed JSON document says; every value is type-checked before use (PolicyError otherwise)."""
    if not isinstance(doc, dict) or isinstance(doc.get("version"), bool) or doc.get("version") != 1:
        raise PolicyError('policy must be a JSON object with "version": 1')
    unknown = set(doc) - {"version", "grants", "disabledUsers", "identityRules"}
    if unknown:
        raise PolicyError(f"unknown policy keys: {sorted(unknown)}")
    disabled = doc.get("disabledUsers", [])
    if not isinstance(disabled, list) or not all(isinstance(u, str) and valid_id(u, rule) for u in disabled):
        raise PolicyError("disabledUsers must be a list of valid user ids")
    raw_grants = doc.get("grants", [])
    if not isinstance(raw_grants, list):
        raise PolicyError("grants must be a list")
    grants: dict[str, list[Grant]] = {}
    for number, item in enumerate(raw_grants):
        if not isinstance(item, dict) or set(item) - {"user", "nodes", "methods"}:
            raise PolicyError(f"grant {number} must be an object with user, nodes and optional methods")
        user, nodes, methods = item.get("user"), item.get("nodes"), item.get("methods", ["*"])
        if not isinstance(user, str) or not valid_id(user, rule):
            raise PolicyError(f"grant {number}: user must be a valid id")
        if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) and valid_id(n, rule) for n in nodes):
            raise PolicyError(f"grant {number}: nodes must be a non-empty list of valid node ids")
        if (
            not isinstance(methods, list)
            or not methods
            or not all(isinstance(m, str) and m in METHODS for m in methods)
        ):
            raise PolicyError(f"grant {number}: methods must be a non-empty list of {sorted(METHODS)}")
        grants.setdefault(user, []).extend(Grant(node, frozenset(methods)) for node in nodes)
    try:
        rules = parse_rules(doc["identityRules"]) if "identityRules" in doc else None
    except RuleError as exc:
        raise PolicyError(str(exc)) from None
    return AccessPolicy({u: tuple(g) for u, g in grants.items()}, frozenset(u.casefold() for u in disabled), rules)


def authorize(identity: Identity, node_id: str, method: str, policy: AccessPolicy) -> Grant:
    """Return the grant that lets ``identity`` call ``method`` on ``node_id``; raise Denied otherwise."""
    if identity.user_id.casefold() in policy.disabled_users:
        raise Denied(Reason.POLICY_DENIED, f"user {identity.user_id} is disabled by the access policy")
    if node_id == identity.node_id:
        return Grant(node_id, frozenset({"*"}))
    matching = [g for g in policy.grants.get(identity.user_id, ()) if g.node_id == node_id]
    if not matching:
        raise Denied(Reason.NODE_MISMATCH, f"certificate is bound to node {identity.node_id}, not {node_id}")
    methods = frozenset().union(*(g.methods for g in matching))
    if "*" not in methods and method not in methods:
        raise Denied(Reason.POLICY_DENIED, f"user {identity.user_id} may not {method} on node {node_id}")
    return Grant(node_id, methods)
