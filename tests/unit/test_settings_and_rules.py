"""The pure pieces on their own: the revocation mode rule, settings, the access rule and refreshing sources."""

from __future__ import annotations

import re

import pytest

from nodegate_authorizer.access_policy import AccessPolicy, Grant, authorize
from nodegate_authorizer.identity import Identity
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.revocation.answers import Answer, CertificateRevocation, Status, evaluate
from nodegate_authorizer.settings import ConfigError, RevocationMode, load_settings
from nodegate_authorizer.sources.blobs import BlobError
from nodegate_authorizer.sources.refresh import Refreshing

GOOD = Answer("crl:a", Status.GOOD)
DOWN = Answer("ocsp:b", Status.UNAVAILABLE, "refused")
REVOKED = Answer("ocsp:b", Status.REVOKED, "revoked at t")


def cert(*answers: Answer) -> CertificateRevocation:
    return CertificateRevocation("leaf", "ab", answers)


@pytest.mark.parametrize(
    ("answers", "require", "hard", "soft"),
    [
        ((GOOD,), None, None, None),
        ((GOOD, DOWN), None, None, None),
        ((DOWN,), "REVOCATION_UNAVAILABLE", "REVOCATION_UNAVAILABLE", None),
        ((), "REVOCATION_UNAVAILABLE", None, None),
        ((GOOD, REVOKED), "REVOKED", "REVOKED", "REVOKED"),
        ((DOWN, REVOKED), "REVOKED", "REVOKED", "REVOKED"),
    ],
)
def test_mode_rule(answers: tuple[Answer, ...], require: str | None, hard: str | None, soft: str | None) -> None:
    for mode, expected in (
        (RevocationMode.REQUIRE, require),
        (RevocationMode.HARD_FAIL, hard),
        (RevocationMode.SOFT_FAIL, soft),
    ):
        outcome = evaluate([cert(*answers)], mode)
        assert outcome.checked == 1
        if expected is None:
            assert outcome.refusal is None
            assert outcome.unavailable == (
                ("ocsp:b: refused",)
                if mode is RevocationMode.SOFT_FAIL and DOWN in answers and GOOD not in answers
                else ()
            )
        else:
            assert outcome.refusal is not None
            assert outcome.refusal[0] == expected, mode


def test_revoked_intermediate_beats_unanswered_leaf() -> None:
    leaf = cert(DOWN)
    intermediate = CertificateRevocation("intermediate 1", "cd", (REVOKED,))
    refusal = evaluate([leaf, intermediate], RevocationMode.HARD_FAIL).refusal
    assert refusal is not None
    assert refusal[0] is Reason.REVOKED
    assert "intermediate 1" in refusal[1]


def test_settings_defaults_bounds_and_errors() -> None:
    settings = load_settings({"TRUSTSTORE_URI": "s3://bucket-a/ts.pem"})
    assert settings.revocation_mode is RevocationMode.HARD_FAIL
    assert settings.fetch_timeout_seconds == 1.5
    assert (
        load_settings({"TRUSTSTORE_URI": "file:///x", "NODE_ID_ATTRIBUTE": "2.5.4.11"}).node_id_attribute == "2.5.4.11"
    )
    for env, message in (
        ({}, "TRUSTSTORE_URI is required"),
        ({"TRUSTSTORE_URI": "s3://Bad_Bucket/x"}, "is not an s3://"),
        ({"TRUSTSTORE_URI": "file:///x", "FETCH_TIMEOUT_SECONDS": "60"}, "outside"),
        ({"TRUSTSTORE_URI": "file:///x", "FETCH_MAX_BYTES": "-1"}, "FETCH_MAX_BYTES"),
        ({"TRUSTSTORE_URI": "file:///x", "REVOCATION_MODE": "HARD"}, "REVOCATION_MODE"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_settings(env)


def test_access_rule() -> None:
    alice = Identity("alice", "node-1", "CN=node-1,UID=alice")
    policy = AccessPolicy({"alice": (Grant("node-2", frozenset({"GET"})),)}, frozenset({"mallory"}))
    assert authorize(alice, "node-1", "DELETE", policy).methods == {"*"}
    assert authorize(alice, "node-2", "GET", policy).methods == {"GET"}
    for node, method, reason in (
        ("node-2", "POST", "POLICY_DENIED"),
        ("node-3", "GET", "NODE_MISMATCH"),
        ("NODE-1", "GET", "NODE_MISMATCH"),
    ):
        with pytest.raises(Denied, match=reason):
            authorize(alice, node, method, policy)
    with pytest.raises(Denied, match="POLICY_DENIED"):
        authorize(Identity("mallory", "node-9", ""), "node-9", "GET", policy)


def test_refreshing_keeps_last_good_only_for_transient_failures() -> None:
    now = [0.0]
    outcomes: list[object] = ["v1"]

    def load(previous: tuple[str, str] | None) -> tuple[str, str]:
        result = outcomes.pop(0)
        if isinstance(result, Exception):
            raise result
        return str(result), str(result)

    value = Refreshing(load, interval=10, max_stale=100, clock=lambda: now[0])
    assert value.get() == "v1"
    now[0] = 11
    outcomes.append(BlobError("timeout"))
    assert value.get() == "v1"  # transient: last good kept
    now[0] = 200
    outcomes.append(BlobError("timeout"))
    with pytest.raises(BlobError):
        value.get()  # beyond max_stale: nothing served
    outcomes.extend(["v2", BlobError("gone", transient=False)])
    assert value.get() == "v2"
    now[0] = 300
    with pytest.raises(BlobError):
        value.get()  # definitive: dropped at once
    outcomes.extend(["v3", ValueError("bad content")])
    assert value.get() == "v3"
    now[0] = 400
    with pytest.raises(ValueError, match="bad content"):
        value.get()
    assert re.search("bad content", value.last_error or "")


def test_disabled_users_match_whatever_the_case_grants_match_exactly() -> None:
    from nodegate_authorizer.access_policy import parse_policy
    from nodegate_authorizer.identity import IdentityRule

    rule = IdentityRule("UID", "CN", re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"))
    doc = b'{"version": 1, "disabledUsers": ["mallory"], "grants": [{"user": "alice", "nodes": ["node-2"]}]}'
    policy = parse_policy(doc, rule)
    for user in ("mallory", "Mallory", "MALLORY"):
        with pytest.raises(Denied) as denied:
            authorize(Identity(user, "node-9", ""), "node-9", "GET", policy)
        assert denied.value.reason == Reason.POLICY_DENIED
    assert authorize(Identity("alice", "node-1", ""), "node-2", "GET", policy).node_id == "node-2"
    with pytest.raises(Denied) as denied:
        authorize(Identity("Alice", "node-1", ""), "node-2", "GET", policy)
    assert denied.value.reason == Reason.NODE_MISMATCH


def test_every_certificate_of_the_path_is_judged() -> None:
    leaf_good, leaf_none, leaf_down = cert(GOOD), cert(), cert(DOWN)
    intermediate_down = CertificateRevocation("intermediate 1", "cd", (DOWN,))
    for first in (leaf_good, leaf_none):
        refusal = evaluate([first, intermediate_down], RevocationMode.HARD_FAIL).refusal
        assert refusal is not None
        assert refusal[1].startswith("intermediate 1 serial cd")
    soft = evaluate([leaf_down, intermediate_down], RevocationMode.SOFT_FAIL)
    assert soft.refusal is None
    assert soft.unavailable == ("ocsp:b: refused", "ocsp:b: refused")


def _rule() -> object:
    from nodegate_authorizer.identity import IdentityRule
    from nodegate_authorizer.settings import DEFAULT_ID_PATTERN

    return IdentityRule("UID", "CN", re.compile(DEFAULT_ID_PATTERN))


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"version": 2},
        {"version": 1, "other": 1},
        {"version": 1, "disabledUsers": "mallory"},
        {"version": 1, "disabledUsers": [1]},
        {"version": 1, "disabledUsers": ["bad user"]},
        {"version": 1, "grants": {}},
        {"version": 1, "grants": ["alice"]},
        {"version": 1, "grants": [{"user": "alice", "nodes": ["n"], "extra": 1}]},
        {"version": 1, "grants": [{"user": 1, "nodes": ["n"]}]},
        {"version": 1, "grants": [{"user": "bad user", "nodes": ["n"]}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": "n"}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": []}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": [1]}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": ["n"], "methods": "GET"}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": ["n"], "methods": []}]},
        {"version": 1, "grants": [{"user": "alice", "nodes": ["n"], "methods": ["FETCH"]}]},
    ],
)
def test_near_valid_policies_are_refused(document: object) -> None:
    import json

    from nodegate_authorizer.access_policy import PolicyError, parse_policy

    with pytest.raises(PolicyError):
        parse_policy(json.dumps(document).encode(), _rule())  # type: ignore[arg-type]


def test_policy_methods_defaults_and_size_limit() -> None:
    import json

    from nodegate_authorizer.access_policy import MAX_POLICY_BYTES, METHODS, PolicyError, parse_policy

    every = {"version": 1, "grants": [{"user": "alice", "nodes": ["n"], "methods": sorted(METHODS)}]}
    assert parse_policy(json.dumps(every).encode(), _rule()).grants["alice"][0].methods == METHODS  # type: ignore[arg-type]
    assert {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"} == METHODS
    default = {"version": 1, "grants": [{"user": "alice", "nodes": ["n"]}]}
    assert parse_policy(json.dumps(default).encode(), _rule()).grants["alice"][0].methods == {"*"}  # type: ignore[arg-type]
    exact = b'{"version": 1}'.ljust(MAX_POLICY_BYTES)
    assert parse_policy(exact, _rule()).grants == {}  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="larger than 1 MiB"):
        parse_policy(exact + b" ", _rule())  # type: ignore[arg-type]
