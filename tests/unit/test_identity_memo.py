"""A leaf's identity is read once and kept while the rule, the identity rules and the truststore it was read
under are in force (decision 16); any change to them is seen on the very next decision, and the memo is bounded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixed import NOW, client, root, sub
from nodegate.pki.authority import pem
from nodegate_authorizer import decision as decision_module
from nodegate_authorizer.decision import Allowed, DecisionInputs, Refused, decide
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.identity_rules import key_id, parse_rules
from nodegate_authorizer.reasons import Reason
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import load_settings
from nodegate_dev.world import event


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[DecisionInputs, str, object]:
    top = root()
    ca = sub(top)
    (tmp_path / "truststore.pem").write_bytes(pem(top.cert, ca.cert))
    settings = {"TRUSTSTORE_URI": (tmp_path / "truststore.pem").as_uri(), "REVOCATION_MODE": "off"}
    leaf = client(ca, "alice", "node-1", with_crl_url=False, with_ocsp_url=False).cert_pem().decode()
    return build_runtime(load_settings(settings)).inputs(), leaf, ca


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the subject readings of the default rule."""
    seen: list[str] = []
    original = decision_module.extract_identity

    def counted(*args: object) -> object:
        seen.append("read")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(decision_module, "extract_identity", counted)
    return seen


def test_an_identity_is_read_once_per_leaf(inputs: tuple[DecisionInputs, str, object], monkeypatch) -> None:
    runtime_inputs, leaf, _ = inputs
    seen = reads(monkeypatch)
    first, second = (decide(parse_event(event(leaf)), runtime_inputs, NOW) for _ in range(2))
    assert isinstance(first, Allowed)
    assert isinstance(second, Allowed)
    assert first.identity == second.identity
    assert seen == ["read"]


def test_a_new_id_pattern_is_seen_on_the_next_decision(inputs: tuple[DecisionInputs, str, object]) -> None:
    runtime_inputs, leaf, _ = inputs
    assert isinstance(decide(parse_event(event(leaf)), runtime_inputs, NOW), Allowed)
    strict = runtime_inputs.identity_rule._replace(pattern=re.compile(r"node-[0-9]+|bob"))
    refused = decide(parse_event(event(leaf)), runtime_inputs._replace(identity_rule=strict), NOW)
    assert isinstance(refused, Refused)
    assert refused.reason is Reason.BAD_IDENTITY


def test_new_identity_rules_are_seen_on_the_next_decision(inputs: tuple[DecisionInputs, str, object]) -> None:
    runtime_inputs, leaf, ca = inputs
    assert isinstance(decide(parse_event(event(leaf)), runtime_inputs, NOW), Allowed)
    default = runtime_inputs.identity_rule
    attributes = {"user": default.user_attribute, "node": default.node_attribute}
    issuer = {"subjectKeyIdentifier": key_id(ca.cert).hex()}  # type: ignore[attr-defined]
    rules = parse_rules([{"name": "by-key", "issuer": issuer, "subject": attributes}])
    policy = runtime_inputs.access_policy._replace(identity_rules=rules)
    by_key = decide(parse_event(event(leaf)), runtime_inputs._replace(access_policy=policy), NOW)
    assert isinstance(by_key, Allowed)
    assert by_key.identity.rule == "by-key"


def test_the_memo_is_bounded(inputs: tuple[DecisionInputs, str, object], monkeypatch) -> None:
    runtime_inputs, _, ca = inputs
    monkeypatch.setattr(decision_module, "MAX_IDENTITIES", 3)
    for user in ("u1", "u2", "u3", "u4", "u5"):
        leaf = client(ca, user, user, with_crl_url=False, with_ocsp_url=False).cert_pem()  # type: ignore[arg-type]
        assert isinstance(decide(parse_event(event(leaf, user)), runtime_inputs, NOW), Allowed)
        assert len(decision_module._identities) <= 3
