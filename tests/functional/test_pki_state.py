"""The PKI directories' own JSON files (``nodegate.pki.state``): whatever valid JSON one of them holds, the code
that reads it either works or raises one ValueError that names the file; never another exception (rev-H F2: a
``db.json`` holding ``[]`` was an AttributeError traceback from ``pki list`` and ``up``). Generated: any JSON
value, and entries that are right but for one field."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodegate.aws.private_ca import PrivateCaDirectory
from nodegate.pki.directory import REASONS, DevPki, init_pki

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
TIME = st.sampled_from(["2026-01-01T00:00:00+00:00", "2026-01-01"]) | st.text(max_size=12)


def one_field_off(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the right fields, any of which may be missing, of the right kind, or any JSON at all."""
    return st.fixed_dictionaries({}, optional={name: right | JSON for name, right in fields.items()})


DB_ENTRY = one_field_off(
    {
        "ca": st.sampled_from(["root", "issuing"]),
        "subject": st.text(max_size=8),
        "file": st.text(max_size=8),
        "not_after": st.none() | TIME,
        "revoked": st.none()
        | one_field_off({"at": TIME, "reason": st.sampled_from(sorted(REASONS)) | st.text(max_size=8)}),
    }
)
LEDGER_ROW = one_field_off(
    {
        "serial": st.text(max_size=8),
        "subject": st.text(max_size=8),
        "sans": st.lists(st.text(max_size=8), max_size=2),
        "ca": st.text(max_size=8),
        "certificate_arn": st.text(max_size=8),
        "file": st.text(max_size=8),
        "not_after": st.none() | TIME,
        "revoked_at": st.none() | TIME,
        "reason": st.none() | st.text(max_size=8),
    }
)
FILES: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "dev db": ("db.json", JSON | st.dictionaries(st.text(max_size=4), DB_ENTRY, max_size=2)),
    "dev config": ("config.json", JSON | one_field_off({"url": st.just("http://127.0.0.1:1")})),
    "private CA ledger": ("ledger.json", JSON | st.lists(LEDGER_ROW, max_size=2)),
    "private CA config": (
        "private-ca.json",
        JSON | one_field_off({"ca_arn": st.text(max_size=8), "region": st.none(), "key_algorithm": st.text()}),
    ),
}


@pytest.fixture(scope="module")
def dev_pki() -> DevPki:
    root = Path(tempfile.mkdtemp()) / "pki"
    pki = init_pki(root, "http://127.0.0.1:1")
    pki.issue("alice", "node-1")
    return pki


def readers(directory: Path) -> list[Callable[[], object]]:
    """Everything that reads the state files of the directory ``directory`` holds."""
    if (directory / "private-ca.json").exists():
        pca = PrivateCaDirectory(directory)
        return [pca.listing, lambda: pca.config.get("key_algorithm")]
    pki = DevPki(directory)
    return [pki.listing, lambda: pki.revoked("issuing"), lambda: pki.ca("issuing"), pki.publish_crls]


@pytest.mark.parametrize("kind", sorted(FILES))
def test_any_json_in_a_state_file_works_or_is_one_error_naming_it(dev_pki: DevPki, kind: str) -> None:
    name, values = FILES[kind]
    directory = dev_pki.root
    if name in ("ledger.json", "private-ca.json"):
        directory = Path(tempfile.mkdtemp())
        (directory / "private-ca.json").write_text(json.dumps({"ca_arn": "arn", "region": None}))
        (directory / "ledger.json").write_text("[]")
    path = directory / name
    saved = path.read_bytes() if path.exists() else None

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=values)
    def check(value: Any) -> None:
        path.write_text(json.dumps(value))
        for read in readers(directory):
            try:
                read()
            except ValueError as exc:
                error = str(exc)
            else:
                continue
            assert str(path) in error, error
            assert "\n" not in error

    try:
        check()
    finally:
        if saved is not None:
            path.write_bytes(saved)
