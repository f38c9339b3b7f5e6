"""The RFC 5280 6.1 policy machinery on its own: initial inputs, mappings, the anyPolicy anchor and wrap-up.

Each expected set is worked out by hand from the RFC 5280 6.1.2-6.1.5 steps named in the test."""

from __future__ import annotations

import pytest
from asn1crypto.x509 import PolicyMappings
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from fixed import T0, root, sub
from nodegate.pki.authority import CertificateAuthority, client_name
from nodegate_authorizer.policies import ANY_POLICY, PolicyError, PolicyInputs, process_policies

P1, P2 = "1.3.6.1.4.1.55555.1.1", "1.3.6.1.4.1.55555.1.2"
Extension = tuple[x509.ExtensionType, bool]


def policies(*oids: str) -> Extension:
    return x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in oids]), False


def mappings(*pairs: tuple[str, str]) -> Extension:
    der = PolicyMappings([{"issuer_domain_policy": i, "subject_domain_policy": s} for i, s in pairs]).dump()
    return x509.UnrecognizedExtension(ExtensionOID.POLICY_MAPPINGS, der), True


def leaf(ca: CertificateAuthority, *extensions: Extension) -> x509.Certificate:
    return ca.issue(client_name("alice", "node-1"), not_before=T0, extensions=extensions).cert


def test_initial_any_policy_inhibit_stops_the_leaf_any_policy() -> None:
    """6.1.2 (e) / 6.1.3 (d)(2): inhibit_anyPolicy starts at 0, so a leaf's anyPolicy adds no node."""
    path = [leaf(root(), policies(ANY_POLICY))]
    assert process_policies(path, PolicyInputs()) == {ANY_POLICY}
    assert process_policies(path, PolicyInputs(initial_any_policy_inhibit=True)) == frozenset()
    with pytest.raises(PolicyError):
        process_policies(path, PolicyInputs(initial_any_policy_inhibit=True, initial_explicit_policy=True))


def test_a_self_issued_leaf_gets_no_any_policy_exception() -> None:
    """6.1.3 (d)(2): the self-issued exception holds only for i < n, never for the leaf."""
    top = root()
    self_issued = top.issue(top.cert.subject, not_before=T0, extensions=[policies(ANY_POLICY)]).cert
    assert process_policies([self_issued], PolicyInputs(initial_any_policy_inhibit=True)) == frozenset()


def test_mapping_is_followed_unless_inhibited() -> None:
    """6.1.4 (b)(1) maps P1 to P2; with policy_mapping 0 (6.1.4 (b)(2)) the mapped node is deleted."""
    top = root()
    ca = sub(top, extensions=[policies(P1), mappings((P1, P2))])
    path = [ca.cert, leaf(ca, policies(P2))]
    assert process_policies(path, PolicyInputs()) == {P2}
    assert process_policies(path, PolicyInputs(initial_policy_mapping_inhibit=True)) == frozenset()


def test_mapping_from_any_policy_hangs_the_new_node_on_the_any_policy_parent() -> None:
    """6.1.4 (b)(1): no node P1 at depth i but an anyPolicy node: a P1 node (expecting P2) is added under its
    parent, so a user who accepts only P1 still gets the leaf's P2 through it."""
    ca = sub(root(), extensions=[policies(ANY_POLICY), mappings((P1, P2))])
    path = [ca.cert, leaf(ca, policies(P2))]
    assert process_policies(path, PolicyInputs(initial_policy_set=frozenset({P1}))) == {P2}


def test_mappings_without_certificate_policies_leave_no_tree() -> None:
    """6.1.3 (e): no certificatePolicies sets the tree to NULL; 6.1.4 (b) then has no node to map."""
    ca = sub(root(), extensions=[mappings((P1, P2))])
    assert process_policies([ca.cert, leaf(ca, policies(P2))], PolicyInputs()) == frozenset()


def test_require_explicit_policy_zero_in_the_leaf() -> None:
    """6.1.5 (b): requireExplicitPolicy 0 in the leaf sets explicit_policy to 0; no policy then fails."""
    top = root()
    demand = (x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), False)
    assert process_policies([leaf(top)], PolicyInputs()) == frozenset()
    with pytest.raises(PolicyError):
        process_policies([leaf(top, demand)], PolicyInputs())
    assert process_policies([leaf(top, demand, policies(P1))], PolicyInputs()) == {P1}
    later = (x509.PolicyConstraints(require_explicit_policy=1, inhibit_policy_mapping=None), False)
    assert process_policies([leaf(top, later)], PolicyInputs()) == frozenset()


def test_user_policy_set_replaces_a_leaf_any_policy() -> None:
    """6.1.5 (g)(iii)(3): an anyPolicy leaf node becomes one node per acceptable policy."""
    path = [leaf(root(), policies(ANY_POLICY))]
    assert process_policies(path, PolicyInputs(initial_policy_set=frozenset({P1}))) == {P1}


def test_a_policy_listed_after_any_policy_counts_when_any_policy_is_inhibited() -> None:
    """6.1.3 (d)(1) runs for every policy other than anyPolicy, wherever anyPolicy stands in the list; (d)(2)
    then skips anyPolicy itself when inhibited. [anyPolicy, P1] under initial-any-policy-inhibit leaves {P1}
    (a `continue` turned `break` lost P1: the mutation audit found no test for it)."""
    path = [leaf(root(), policies(ANY_POLICY, P1))]
    assert process_policies(path, PolicyInputs(initial_any_policy_inhibit=True)) == {P1}
    assert process_policies(path, PolicyInputs()) == {ANY_POLICY, P1}
