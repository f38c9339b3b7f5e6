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

from nodegate_authorizer.access_policy import PolicyError, parse_policy
from nodegate_authorizer.identity import IdentityRule
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN

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
