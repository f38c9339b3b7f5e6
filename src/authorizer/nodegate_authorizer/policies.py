"""Certificate policy processing (RFC 5280 6.1.2-6.1.5): the valid policy tree, mappings and policy constraints.

Pure: it reads the extensions of a path (anchor excluded, top first) and returns the authorities-constrained
policy set, or raises PolicyError. Every policy extension is processed whatever its criticality."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from .certificates import extension
from .names import is_self_issued

ANY_POLICY = "2.5.29.32.0"


class PolicyError(ValueError):
    """The path does not satisfy the policy rules."""


class PolicyInputs(NamedTuple):
    """The four RFC 5280 6.1.1 policy inputs, spelled out."""

    initial_policy_set: frozenset[str] = frozenset({ANY_POLICY})
    initial_explicit_policy: bool = False
    initial_policy_mapping_inhibit: bool = False
    initial_any_policy_inhibit: bool = False


class _Node:
    """A node of the valid_policy_tree (RFC 5280 6.1.2 (a)); equal only to itself."""

    __slots__ = ("children", "expected", "parent", "valid_policy")

    def __init__(self, valid_policy: str, expected: set[str], parent: _Node | None) -> None:
        self.valid_policy = valid_policy
        self.expected = expected
        self.parent = parent
        self.children: list[_Node] = []

    def add(self, policy: str, expected: set[str]) -> _Node:
        child = _Node(policy, expected, self)
        self.children.append(child)
        return child


def policy_mappings(cert: x509.Certificate) -> list[tuple[str, str]]:
    """(issuerDomainPolicy, subjectDomainPolicy) pairs; ``cryptography`` leaves policyMappings unparsed."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.POLICY_MAPPINGS)
    except x509.ExtensionNotFound:
        return []
    from asn1crypto.x509 import PolicyMappings

    try:
        mappings = PolicyMappings.load(ext.value.public_bytes())
        return [(m["issuer_domain_policy"].dotted, m["subject_domain_policy"].dotted) for m in mappings]
    except (ValueError, TypeError, KeyError) as exc:
        raise PolicyError(f"policyMappings does not parse: {exc}") from None


def _level(root: _Node, depth: int) -> list[_Node]:
    nodes = [root]
    for _ in range(depth):
        nodes = [child for node in nodes for child in node.children]
    return nodes


def _prune(root: _Node, depth: int) -> _Node | None:
    """Remove nodes above ``depth`` (>= 1) that have no children; None when the whole tree is gone."""
    for level in range(depth - 2, -1, -1):
        for node in _level(root, level):
            node.children = [c for c in node.children if c.children]
    return root if root.children else None


def process_policies(
    path: Sequence[x509.Certificate], inputs: PolicyInputs, anchor: x509.Certificate | None = None
) -> frozenset[str]:
    """Run the policy part of RFC 5280 6.1 over ``path`` (top intermediate first, leaf last).

    The anchor's policyConstraints and inhibitAnyPolicy bound the initial counters, as if it were certificate
    0 (RFC 5937 3.2: a trust anchor's constraints set the initial inputs; skipCerts 0 means "from the first
    certificate below it")."""
    n = len(path)
    tree: _Node | None = _Node(ANY_POLICY, {ANY_POLICY}, None)
    explicit = 0 if inputs.initial_explicit_policy else n + 1
    inhibit_any = 0 if inputs.initial_any_policy_inhibit else n + 1
    mapping = 0 if inputs.initial_policy_mapping_inhibit else n + 1
    if anchor is not None:
        explicit, mapping, inhibit_any = _constrained(anchor, explicit, mapping, inhibit_any)
    for i, cert in enumerate(path, start=1):
        self_issued = is_self_issued(cert)
        policies = extension(cert, x509.CertificatePolicies)
        if policies is not None and tree is not None:
            tree = _add_level(
                tree, i, [p.policy_identifier.dotted_string for p in policies], inhibit_any, self_issued, n
            )
        elif policies is None:
            tree = None
        if explicit <= 0 and tree is None:
            raise PolicyError(f"certificate {i} of {n}: no valid policy while an explicit policy is required")
        if i == n:
            break
        mappings = policy_mappings(cert)
        if any(ANY_POLICY in pair for pair in mappings):
            raise PolicyError(f"certificate {i}: policyMappings maps anyPolicy")
        if tree is not None and mappings:
            tree = _apply_mappings(tree, i, mappings, mapping > 0)
        if not self_issued:
            explicit, mapping, inhibit_any = (max(v - 1, 0) for v in (explicit, mapping, inhibit_any))
        explicit, mapping, inhibit_any = _constrained(cert, explicit, mapping, inhibit_any)
    return _wrap_up(tree, path[-1], explicit, inputs, n)


def _constrained(cert: x509.Certificate, explicit: int, mapping: int, inhibit_any: int) -> tuple[int, int, int]:
    """6.1.4 (i)-(j): the counters lowered by ``cert``'s policyConstraints and inhibitAnyPolicy."""
    constraints = extension(cert, x509.PolicyConstraints)
    if constraints is not None:
        if constraints.require_explicit_policy is not None:
            explicit = min(explicit, constraints.require_explicit_policy)
        if constraints.inhibit_policy_mapping is not None:
            mapping = min(mapping, constraints.inhibit_policy_mapping)
    inhibit = extension(cert, x509.InhibitAnyPolicy)
    if inhibit is not None:
        inhibit_any = min(inhibit_any, inhibit.skip_certs)
    return explicit, mapping, inhibit_any


def _add_level(tree: _Node, i: int, oids: list[str], inhibit_any: int, self_issued: bool, n: int) -> _Node | None:
    """6.1.3 (d): grow the tree by one level for a certificate with certificatePolicies."""
    parents = _level(tree, i - 1)
    for oid in oids:
        if oid == ANY_POLICY:
            continue
        matched = [node for node in parents if oid in node.expected]
        if matched:
            for node in matched:
                node.add(oid, {oid})
        else:
            for node in parents:
                if node.valid_policy == ANY_POLICY:
                    node.add(oid, {oid})
    if ANY_POLICY in oids and (inhibit_any > 0 or (i < n and self_issued)):
        for node in parents:
            present = {child.valid_policy for child in node.children}
            for expected in sorted(node.expected - present):
                node.add(expected, {expected})
    return _prune(tree, i)


def _apply_mappings(tree: _Node, i: int, mappings: list[tuple[str, str]], allowed: bool) -> _Node | None:
    """6.1.4 (b): rewrite expected policy sets (or delete mapped nodes when mapping is inhibited)."""
    by_issuer: dict[str, set[str]] = {}
    for issuer_policy, subject_policy in mappings:
        by_issuer.setdefault(issuer_policy, set()).add(subject_policy)
    nodes = _level(tree, i)
    if not allowed:
        for node in nodes:
            if node.valid_policy in by_issuer and node.parent is not None:
                node.parent.children.remove(node)
        return _prune(tree, i)
    for issuer_policy, subject_policies in by_issuer.items():
        matched = [node for node in nodes if node.valid_policy == issuer_policy]
        for node in matched:
            node.expected = set(subject_policies)
        anchor = next((node.parent for node in nodes if node.valid_policy == ANY_POLICY), None)
        if not matched and anchor is not None:
            anchor.add(issuer_policy, set(subject_policies))
    return tree


def _wrap_up(tree: _Node | None, leaf: x509.Certificate, explicit: int, inputs: PolicyInputs, n: int) -> frozenset[str]:
    """6.1.5 (a), (b) and (g): final explicit-policy check and intersection with the initial policy set."""
    explicit = max(explicit - 1, 0)
    constraints = extension(leaf, x509.PolicyConstraints)
    if constraints is not None and constraints.require_explicit_policy == 0:
        explicit = 0
    if tree is not None and inputs.initial_policy_set != {ANY_POLICY}:
        tree = _intersect(tree, inputs.initial_policy_set, n)
    if tree is None:
        if explicit == 0:
            raise PolicyError("no valid policy for the path while an explicit policy is required")
        return frozenset()
    return frozenset(node.valid_policy for node in _level(tree, n))


def _intersect(tree: _Node, wanted: frozenset[str], n: int) -> _Node | None:
    """6.1.5 (g)(iii): keep only the valid policy node set members the user accepts."""
    node_set: list[_Node] = []
    frontier = [tree]
    while frontier:
        node = frontier.pop()
        for child in node.children:
            if node.valid_policy == ANY_POLICY:
                node_set.append(child)
            if child.valid_policy == ANY_POLICY:
                frontier.append(child)
    for node in node_set:
        if node.valid_policy not in wanted and node.valid_policy != ANY_POLICY and node.parent is not None:
            node.parent.children.remove(node)
    leaf_any = [node for node in _level(tree, n) if node.valid_policy == ANY_POLICY]
    if leaf_any:
        present = {node.valid_policy for node in node_set}
        for node in leaf_any:
            if node.parent is None:
                continue
            for policy in sorted(wanted - present):
                node.parent.add(policy, {policy})
            node.parent.children.remove(node)
    return _prune(tree, n)
