"""Shared fixtures: a real PKI with a live CRL/OCSP server, and a handler bound to an environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodegate_authorizer import handler as authorizer
from support import World, decision, event

Invoke = Callable[..., tuple[str, str | None, dict[str, Any]]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def invoke(world: World, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run the real handler on an event for ``cert`` with the world's environment plus overrides."""

    def run(cert_pem: bytes | str | None, node: str = "node-1", method: str = "GET", env: dict | None = None,
            raw_event: dict | None = None) -> tuple[str, str | None, dict[str, Any]]:  # fmt: skip
        for key in list(world.env()) + list(env or {}):
            monkeypatch.delenv(key, raising=False)
        for key, value in world.env(**(env or {})).items():
            monkeypatch.setenv(key, value)
        response = authorizer.lambda_handler(raw_event if raw_event is not None else event(cert_pem, node, method))
        effect, reason = decision(response)
        return effect, reason, response

    return run
