"""JSON from outside (a file, stdin, a header, an answer), read at one boundary: whatever the bytes, the result is
a value at most ``MAX_DEPTH`` arrays or objects deep or a ValueError naming where they came from. The stdlib
parser raises RecursionError, not ValueError, on deep nesting (RFC 8259 9 lets a parser limit the depth), and a
value near its limit breaks the next recursive step (printing, copying, comparing): the limit is far below it."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused (nodegate's own files nest a few levels)."""


def parse_json(data: str | bytes, where: str) -> Any:
    """The JSON value in ``data`` (bytes are UTF-8, RFC 8259 8.1), or a ValueError naming ``where`` and the
    problem: the line and column of a syntax error, the offset of a byte that is not UTF-8, or too deep."""
    try:
        value = json.loads(data.decode() if isinstance(data, bytes) else data)
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 at byte {exc.start}"
    except RecursionError:
        problem = f"arrays or objects nested more than {MAX_DEPTH} deep"
    except ValueError as exc:  # an integer longer than int() converts
        problem = str(exc)
    else:
        if _depth(value) <= MAX_DEPTH:
            return value
        problem = f"arrays or objects nested more than {MAX_DEPTH} deep"
    raise ValueError(f"{where}: not valid JSON ({problem}); fix it")


def _depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` nests, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            pending.extend((child, depth + 1) for child in children)
    return deepest
