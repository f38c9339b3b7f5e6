"""JSON from outside, read by the CLI, the edge and the node (``nodegate_node.json_text``): whatever the bytes, a
value no deeper than ``MAX_DEPTH`` that the stdlib parser also reads, or one ValueError line naming the source."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodegate_node.json_text import MAX_DEPTH, parse_json

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)


def depth(value: Any) -> int:
    """Independent oracle: how many arrays and objects deep ``value`` nests (recursive; inputs stay shallow)."""
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def nest(value: Any, levels: list[bool]) -> Any:
    """``value`` wrapped once per level, in an array (True) or an object (False)."""
    for in_array in levels:
        value = [value] if in_array else {"k": value}
    return value


@settings(max_examples=300, deadline=None)
@given(value=VALUES, levels=st.lists(st.booleans(), max_size=2 * MAX_DEPTH))
def test_a_value_is_read_as_the_stdlib_reads_it_up_to_the_depth_limit(value: Any, levels: list[bool]) -> None:
    text = json.dumps(nest(value, levels))
    if depth(json.loads(text)) <= MAX_DEPTH:
        assert json.dumps(parse_json(text.encode(), "f.json")) == text
    else:
        with pytest.raises(
            ValueError, match=rf"^f\.json: not valid JSON \(arrays or objects nested more than {MAX_DEPTH}"
        ):
            parse_json(text, "f.json")


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=64) | st.text(alphabet='[]{}":,0123456789 \\ntrue', max_size=64).map(str.encode))
def test_any_bytes_are_a_value_or_one_line_naming_the_source(data: bytes) -> None:
    """Differential with the stdlib parser: what it reads within the depth limit is read alike; anything else is
    one ValueError line naming the source, never another exception (RecursionError, UnicodeDecodeError)."""
    try:
        expected = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        pass
    else:
        if depth(expected) <= MAX_DEPTH:
            assert json.dumps(parse_json(data, "routes.json")) == json.dumps(expected)
            return
    with pytest.raises(ValueError, match=r"^routes\.json: not valid JSON \([^\n]*\); fix it$"):
        parse_json(data, "routes.json")


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_nesting_past_the_stdlib_recursion_limit_is_a_value_error(opening: str) -> None:
    """rev-F F7: 100000 ``[`` made the stdlib parser raise RecursionError, which every caller let through."""
    with pytest.raises(ValueError, match=r"^deep\.json: not valid JSON \(arrays or objects nested more than"):
        parse_json(opening * 100_000, "deep.json")
