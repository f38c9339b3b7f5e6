"""The JSON files a PKI directory keeps for itself (the dev PKI's ``config.json`` and ``db.json``, a Private CA
directory's ``private-ca.json`` and ``ledger.json``), read at one boundary. Valid JSON of the wrong shape (a file
edited by hand, or written by another version) is one ValueError that names the file and the field, never a
traceback from the code that reads the field later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from nodegate_node.json_text import parse_json


class Each(NamedTuple):
    """A JSON object used as a map: every key of ``keys`` (any when None), every value of ``shape``."""

    shape: Any
    keys: Any = None


class Maybe(NamedTuple):
    """An object's field that may be left out; when present, of ``shape``."""

    shape: Any


class Check(NamedTuple):
    """A value ``accepts`` says yes to; ``what`` names it in the error."""

    what: str
    accepts: Callable[[Any], bool]


Shape = Any
"""What a value must be: a type (``str``, ``list``...), None (JSON null), a frozenset (one of these values), a
tuple (one of these shapes), a list of one shape (a JSON array of it), a dict (a JSON object with exactly these
fields, each required unless its shape is ``Maybe``), ``Each`` or ``Check``."""


def _iso_time(value: Any) -> bool:
    try:
        dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


ISO_TIME = Check("an ISO 8601 time", _iso_time)
FILE_NAME = Check("a file name", lambda value: isinstance(value, str) and bool(value) and "\x00" not in value)


def read_state(path: Path, shape: Shape) -> Any:
    """The JSON value in ``path`` when it has ``shape``; ValueError naming the file otherwise."""
    value = parse_json(path.read_bytes(), str(path))
    problem = _problem(value, shape, "")
    if problem is not None:
        raise ValueError(f"{path}: {problem}: not a file nodegate wrote; restore it or make the directory again")
    return value


def _problem(value: Any, shape: Shape, where: str) -> str | None:
    """Why ``value`` (at ``where`` in the file) does not have ``shape``; None when it does."""
    at = where or "the top level"
    if isinstance(shape, Maybe):
        return _problem(value, shape.shape, where)
    if isinstance(shape, Check):
        return None if shape.accepts(value) else f"{at} is not {shape.what}"
    if isinstance(shape, Each):
        if not isinstance(value, dict):
            return f"{at} is not an object"
        if shape.keys is not None and (bad := [k for k in value if _problem(k, shape.keys, "") is not None]):
            return f"{at} has keys that are not {shape.keys.what}: {bad[:3]}"
        return next((p for k, v in value.items() if (p := _problem(v, shape.shape, f"{where}[{k!r}]"))), None)
    if isinstance(shape, tuple):  # after the NamedTuples above, which are tuples too
        problems = [_problem(value, option, where) for option in shape]
        return None if None in problems else next(p for p in problems if p is not None)
    if isinstance(shape, frozenset):
        return None if isinstance(value, str) and value in shape else f"{at} is not one of {sorted(shape)}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{at} is not an array"
        return next((p for i, v in enumerate(value) if (p := _problem(v, shape[0], f"{where}[{i}]"))), None)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{at} is not an object"
        if extra := sorted(set(value) - set(shape)):
            return f"{at} has unknown fields {extra}"
        for field, inner in shape.items():
            if field not in value and not isinstance(inner, Maybe):
                return f"{at} has no {field!r}"
        return next((p for f, v in value.items() if (p := _problem(v, shape[f], f"{where}.{f}"))), None)
    if shape is None:
        return None if value is None else f"{at} is not null"
    if isinstance(value, bool) and shape is not bool:  # JSON true is no number
        return f"{at} is not {shape.__name__}"
    return None if isinstance(value, shape) else f"{at} is not {shape.__name__}"
