"""docs/access-policy.schema.json and the policy loader accept and refuse the same documents (generated ones, and
the README's examples); jsonschema is the second implementation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixed import NOW, client, root
from nodegate_authorizer import access_policy
from nodegate_authorizer.access_policy import PolicyError, parse_policy, read_policy
from nodegate_authorizer.handler import make_handler
from nodegate_authorizer.identity import IdentityRule
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN, load_settings
from nodegate_dev.world import event

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "access-policy.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
RULE = IdentityRule("UID", "CN", re.compile(DEFAULT_ID_PATTERN))

IDS = st.one_of(
    st.sampled_from(["alice", "node-1", "a" * 64]),
    st.sampled_from(["a" * 65, "-x", "a b", "alice\n", "", "Ünï", 7, None]),
)
PIECES = [
    "spiffe://",
    "https://",
    "example.org",
    "/",
    "{user}",
    "{node}",
    "{td}",
    "@",
    ".",
    "a",
    "A",
    "%2F",
    "..",
    "-",
    ":8",
    "?",
    "#",
    "\n",
    "_",
    "x--y",
    "com",
]
TEMPLATE_TEXT = st.lists(st.sampled_from(PIECES), max_size=9).map("".join)
TEMPLATES = st.one_of(
    st.sampled_from(
        [
            "spiffe://example.org/operator/{user}/node/{node}",
            "spiffe://example.org/{user}",
            "spiffe://example.org/{node}",
            "{user}@example.com",
            "{node}@example.com",
            "{user}.{node}.example.com",
            "{node}.nodes.example.com",
            "https://nodes.example.com/{node}",
            "https://nodes.example.com/{user}",
            "{user}.example.com",
        ]
    ),
    TEMPLATE_TEXT,
)
ATTRIBUTES = st.sampled_from(["CN", "UID", "OU", "emailAddress", "cn", "2.5.4.3", "", 1])
SOURCES = st.one_of(
    st.fixed_dictionaries({"subject": ATTRIBUTES}),
    st.fixed_dictionaries({"uri": TEMPLATES}),
    st.sampled_from([None, {}, {"subject": "CN", "uri": "https://x.org/{node}"}, "CN", {"dns": "{node}.example.com"}]),
)
ISSUERS = st.sampled_from(
    [
        {"subjectKeyIdentifier": "ab01"},
        {"subjectKeyIdentifier": "cd"},
        {"subject": "CN=SPIRE Issuing,O=Example"},
        {"subject": "CN=Mail CA"},
        {"subjectKeyIdentifier": "AB"},
        {"subjectKeyIdentifier": "abc"},
        {"subject": "CN=a\\,b"},
        {"subject": "C=US"},
        {"subject": "CN=trailing "},
        {},
        "ab01",
        {"subjectKeyIdentifier": "ef", "subject": "CN=x"},
    ]
)


VALID_RULES = [
    {
        "name": "a",
        "issuer": {"subjectKeyIdentifier": "ab01"},
        "uri": "spiffe://example.org/operator/{user}/node/{node}",
    },
    {"name": "b", "issuer": {"subject": "CN=Mail CA"}, "email": "{user}@example.com", "node": {"subject": "CN"}},
    {
        "name": "c",
        "issuer": {"subject": "CN=SPIRE Issuing,O=Example"},
        "email": "{user}@example.com",
        "node": {"uri": "https://nodes.example.com/{node}"},
    },
    {
        "name": "d",
        "issuer": {"subjectKeyIdentifier": "cd"},
        "dns": "{node}.nodes.example.com",
        "user": {"subject": "UID"},
    },
    {"name": "e", "issuer": {"subjectKeyIdentifier": "ef"}, "subject": {"user": "UID", "node": "CN"}},
]
"""One rule of each kind; the generator mutates them."""
FIELDS = ["name", "issuer", "subject", "uri", "email", "dns", "user", "node", "regex"]


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    """A valid rule with 0 to 2 of its fields replaced, removed or added."""
    rule: dict[str, Any] = dict(draw(st.sampled_from(VALID_RULES)))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        field = draw(st.sampled_from(FIELDS))
        if field in rule and draw(st.booleans()):
            del rule[field]
        elif field == "name":
            rule[field] = draw(st.sampled_from(["spire", "mail", "a b", "", 5, "x" * 65]))
        elif field == "issuer":
            rule[field] = draw(ISSUERS)
        elif field == "subject":
            rule[field] = draw(st.one_of(st.fixed_dictionaries({"user": ATTRIBUTES, "node": ATTRIBUTES}), st.just({})))
        elif field in ("uri", "email", "dns"):
            rule[field] = draw(TEMPLATES)
        else:
            rule[field] = draw(SOURCES)
    return rule


@st.composite
def documents(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {"version": draw(st.sampled_from([1] * 8 + [1.0, 2, True, "1"]))}
    if draw(st.integers(0, 3)) == 0:
        doc["disabledUsers"] = draw(st.one_of(st.lists(IDS, max_size=2), st.none()))
    if draw(st.integers(0, 3)) == 0:
        grant = {"user": draw(IDS), "nodes": draw(st.lists(IDS, max_size=2))}
        if draw(st.booleans()):
            grant["methods"] = draw(st.lists(st.sampled_from(["GET", "*", "get", "TRACE"]), max_size=2))
        doc["grants"] = [grant]
    if draw(st.integers(0, 4)):
        doc["identityRules"] = draw(st.lists(rules(), max_size=3))
    if draw(st.integers(0, 19)) == 0:
        doc["extra"] = 1
    return doc


def loader_accepts(doc: Any) -> bool:
    try:
        parse_policy(json.dumps(doc).encode(), RULE)
    except PolicyError:
        return False
    return True


def distinct_names_and_issuers(doc: Any) -> bool:
    """The two rules the schema cannot say (README: the loader checks them)."""
    listed = doc.get("identityRules") if isinstance(doc, dict) else None
    if not isinstance(listed, list):
        return True
    names = [json.dumps(r.get("name")) for r in listed if isinstance(r, dict)]
    issuers = [json.dumps(r.get("issuer"), sort_keys=True) for r in listed if isinstance(r, dict)]
    return len(set(names)) == len(names) and len(set(issuers)) == len(issuers)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(documents())
def test_schema_and_loader_agree(doc: Any) -> None:
    assume(distinct_names_and_issuers(doc))
    assert VALIDATOR.is_valid(doc) is loader_accepts(doc), (doc, [e.message for e in VALIDATOR.iter_errors(doc)][:3])


def test_the_generator_reaches_accepted_rules() -> None:
    """The property above is not vacuous: documents with each kind of rule are accepted by both."""
    for rule in VALID_RULES:
        doc = {"version": 1, "identityRules": [rule]}
        assert VALIDATOR.is_valid(doc), rule
        assert loader_accepts(doc), rule


@pytest.mark.parametrize("block", re.findall(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL))
def test_readme_policies_are_valid(block: str) -> None:
    doc = json.loads(block)
    if isinstance(doc, dict) and "version" in doc:
        assert VALIDATOR.is_valid(doc)
        assert loader_accepts(doc)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FULL: dict[str, Any] = {
    "version": 1,
    "disabledUsers": ["mallory"],
    "grants": [{"user": "alice", "nodes": ["node-2"], "methods": ["GET", "POST"]}],
    "identityRules": VALID_RULES,
}
"""A valid document holding every field the loader reads."""


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value``: the whole, each list item and each object member, recursively."""
    inner: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        inner = [place for key, item in value.items() for place in places(item, (*path, key))]
    elif isinstance(value, list):
        inner = [place for index, item in enumerate(value) for place in places(item, (*path, index))]
    return [path, *inner]


PLACES = places(FULL)


def test_the_full_document_is_accepted_by_both() -> None:
    """The mutations below start from a document both accept."""
    assert VALIDATOR.is_valid(FULL)
    assert loader_accepts(FULL)


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = replaced(doc[path[0]], path[1:], value)
    return copy


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PLACES), JSON_VALUES), min_size=1, max_size=3))
def test_any_json_value_in_any_field_is_refused_or_accepted_never_raised(changes: list[tuple[Any, Any]]) -> None:
    """Every value the loader reads is type-checked before use: nested lists and objects, numbers, null and
    booleans in any field (a method, a node, an issuer, a template...) give a policy or a PolicyError, never
    TypeError (e.g. ``"methods": [["GET"]]`` once reached ``m in METHODS`` unhashable); the schema agrees."""
    doc: Any = FULL
    for path, value in changes:
        try:
            doc = replaced(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this place
    try:  # the checks themselves, without parse_policy's boundary: only PolicyError
        read_policy(doc, RULE)
        accepted = True
    except PolicyError:
        accepted = False
    assert loader_accepts(doc) is accepted
    if distinct_names_and_issuers(doc):
        assert VALIDATOR.is_valid(doc) is accepted, (doc, [e.message for e in VALIDATOR.iter_errors(doc)][:3])


@pytest.mark.parametrize(
    "methods", [[["GET"]], [{"a": 1}], [None], [1], [True], [1.5], ["GET", ["POST"]]], ids=lambda m: json.dumps(m)
)
def test_methods_of_another_type_are_a_policy_error(methods: list[Any]) -> None:
    doc = {"version": 1, "grants": [{"user": "alice", "nodes": ["node-2"], "methods": methods}]}
    with pytest.raises(PolicyError, match="methods"):
        parse_policy(json.dumps(doc).encode(), RULE)
    assert not VALIDATOR.is_valid(doc)


def test_the_boundary_turns_any_other_error_into_a_policy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that ever misses a type (the class above) still refuses the document instead of crashing."""

    def broken(raw: object) -> None:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(access_policy, "parse_rules", broken)
    with pytest.raises(PolicyError, match="TypeError"):
        parse_policy(json.dumps({"version": 1, "identityRules": VALID_RULES}).encode(), RULE)


@pytest.mark.parametrize("version", [1, 1.0, True, "1", 2, None])
def test_version_is_the_number_1_for_both(version: Any) -> None:
    """The schema's ``"const": 1`` is a JSON number: 1.0 is the same number (JSON Schema 2020-12 validation 6.1.3,
    4.2.2), so both accept it; a boolean or a string is not 1."""
    doc = {"version": version}
    assert VALIDATOR.is_valid(doc) is loader_accepts(doc) is (version in (1, 1.0) and not isinstance(version, bool))


def test_the_handler_denies_policy_unavailable_for_a_method_list(tmp_path: Path) -> None:
    """Through the runtime and the handler: the review's ``"methods": [["GET"]]`` is POLICY_UNAVAILABLE, not
    INTERNAL_ERROR."""
    ca = root("Policy Root")
    (tmp_path / "truststore.pem").write_bytes(ca.cert_pem())
    doc = {"version": 1, "grants": [{"user": "alice", "nodes": ["node-2"], "methods": [["GET"]]}]}
    (tmp_path / "policy.json").write_text(json.dumps(doc))
    env = {"TRUSTSTORE_URI": (tmp_path / "truststore.pem").as_uri(), "REVOCATION_MODE": "off"}
    runtime = build_runtime(load_settings(env | {"ACCESS_POLICY_URI": (tmp_path / "policy.json").as_uri()}))
    response = make_handler(runtime, lambda: NOW)(event(client(ca).cert_pem()))
    assert response["context"] == {"reason": "POLICY_UNAVAILABLE"}
