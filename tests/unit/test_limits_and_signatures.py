"""Documented limits pinned to their values, the default access policy, and signatures whose key and claimed
algorithm disagree (issue 23 item 6: mutants docs/mutation-equivalent.json had listed as equivalent)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding

from fixed import client, root, sub
from nodegate_authorizer.access_policy import DEFAULT_POLICY, PolicyError, authorize, parse_policy
from nodegate_authorizer.certificates import load_leaf_pem, verify_signature
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.identity import Identity, IdentityRule
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN
from nodegate_dev.world import event

RULE = IdentityRule("UID", "CN", re.compile(DEFAULT_ID_PATTERN))
DATA = b"to be signed"


def test_policy_documents_up_to_one_mib_are_read() -> None:
    """The limit its message names: 1 MiB exactly is read, one byte more is refused."""
    exact = b'{"version": 1}'.ljust(1024 * 1024)
    assert parse_policy(exact, RULE).grants == {}
    with pytest.raises(PolicyError, match="larger than 1 MiB"):
        parse_policy(exact + b" ", RULE)


def test_the_default_policy_lets_a_certificate_call_only_its_own_node() -> None:
    """DEFAULT_POLICY (no ACCESS_POLICY_URI) is built from the field defaults: no grants at all."""
    alice = Identity("alice", "node-1", "CN=node-1,UID=alice")
    assert authorize(alice, "node-1", "GET", DEFAULT_POLICY).methods == {"*"}
    with pytest.raises(Denied) as denied:
        authorize(alice, "node-2", "GET", DEFAULT_POLICY)
    assert denied.value.reason is Reason.NODE_MISMATCH


def test_client_pems_up_to_64_kib_are_read() -> None:
    """The limit its message names: 64 KiB exactly is read, one byte more is refused."""
    cert = client(sub(root())).cert
    text = cert.public_bytes(Encoding.PEM).decode()
    assert load_leaf_pem(text.ljust(64 * 1024)) == cert
    with pytest.raises(ValueError, match="larger than 64 KiB"):
        load_leaf_pem(text.ljust(64 * 1024 + 1))


def test_method_arns_up_to_4096_characters_are_read() -> None:
    longest = event(b"PEM", "node-1")
    longest["methodArn"] += "x" * (4096 - len(longest["methodArn"]))
    assert parse_event(longest).node_id == "node-1"
    longest["methodArn"] += "x"
    with pytest.raises(Denied) as denied:
        parse_event(longest)
    assert denied.value.reason is Reason.BAD_REQUEST


@pytest.mark.parametrize("kind", [ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey])
def test_an_eddsa_signature_under_a_hash_algorithm_is_not_valid(kind: Any) -> None:
    """An OCSP response names its own signature algorithm and ocsp.py verifies with the responder's key as it
    is: a valid Ed25519/Ed448 signature labelled, say, sha256WithRSAEncryption must not verify."""
    key = kind.generate()
    signature = key.sign(DATA)
    verify_signature(key.public_key(), signature, DATA, None)
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key(), signature, DATA, hashes.SHA256())


@pytest.mark.parametrize("algorithm", [hashes.SHA256(), None], ids=["sha256", "none"])
@pytest.mark.parametrize("kind", [x25519.X25519PrivateKey, x448.X448PrivateKey])
def test_a_key_that_cannot_sign_verifies_nothing(kind: Any, algorithm: hashes.HashAlgorithm | None) -> None:
    """A certificate may carry an X25519/X448 key (an OCSP delegate can); it signs nothing, and checking a
    signature with it is InvalidSignature, not an AttributeError from a verify() it does not have."""
    with pytest.raises(InvalidSignature):
        verify_signature(kind.generate().public_key(), b"\x00" * 64, DATA, algorithm)
