"""Shared fixtures: a real PKI with a live CRL/OCSP server, and a handler bound to an environment."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodegate_authorizer import handler as authorizer
from nodegate_authorizer.settings import SETTING_NAMES
from nodegate_dev.world import World, decision, event


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After the run: how many fuzz examples reached each stage (tests/functional/test_fuzz.py counts them)."""
    fuzz = sys.modules.get("test_fuzz")
    if fuzz is not None and fuzz.REACH:
        reach = ", ".join(f"{stage}: {count}" for stage, count in sorted(fuzz.REACH.items()))
        terminalreporter.write_line(f"fuzz reach ({fuzz.EXAMPLES} examples per property): {reach}")
    der_fuzz = sys.modules.get("test_der_fuzz")
    if der_fuzz is not None:
        terminalreporter.write_line(f"DER fuzz seed {der_fuzz.SEED}, {der_fuzz.EXAMPLES} mutants per kind")
        for kind, counts in der_fuzz.REACH.items():
            if counts:
                reach = ", ".join(f"{stage}: {count}" for stage, count in sorted(counts.items()))
                terminalreporter.write_line(f"  {kind}: {reach}")
    differential = sys.modules.get("test_differential")
    if differential is not None and differential.OUTCOMES:
        counts = ", ".join(f"{label}: {n}" for label, n in sorted(differential.OUTCOMES.items()))
        terminalreporter.write_line(f"differential (nodegate/pyca ClientVerifier): {counts}")
    revocation = sys.modules.get("test_revocation_differential")
    if revocation is not None and revocation.OUTCOMES:
        counts = ", ".join(f"{label}: {n}" for label, n in sorted(revocation.OUTCOMES.items()))
        terminalreporter.write_line(f"differential (nodegate/pyhanko-certvalidator revocation): {counts}")


Invoke = Callable[..., tuple[str, str | None, dict[str, Any]]]


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """Each test's lambda_handler reads the environment it sets (the handler reads it once per process)."""
    authorizer.reset()
    yield
    authorizer.reset()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


@pytest.fixture
def invoke(world: World, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run the real handler on an event for ``cert`` with the world's environment plus overrides."""

    applied: set[str] = set(SETTING_NAMES)  # start clean, whatever the process environment holds
    current: list[dict[str, str]] = []

    def run(
        cert_pem: bytes | str | None,
        node: str = "node-1",
        method: str = "GET",
        env: dict | None = None,
        raw_event: dict | None = None,
    ) -> tuple[str, str | None, dict[str, Any]]:
        for key in applied | set(env or {}):
            monkeypatch.delenv(key, raising=False)
        wanted = world.env(**(env or {}))
        for key, value in wanted.items():
            monkeypatch.setenv(key, value)
            applied.add(key)
        if current != [wanted]:  # the handler reads its environment once per process, as in Lambda
            authorizer.reset()
            current[:] = [wanted]
        response = authorizer.lambda_handler(raw_event if raw_event is not None else event(cert_pem, node, method))
        effect, reason = decision(response)
        return effect, reason, response

    return run


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real moto S3 server on 127.0.0.1; boto3 reaches it through AWS_ENDPOINT_URL_S3."""
    from moto.server import ThreadedMotoServer

    from nodegate.local.stack import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(key, value)
        yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server: str) -> Any:
    """A fresh versioned bucket; returns (boto3 client, bucket name)."""
    import uuid

    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_server)
    name = f"nodegate-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3, name


def use_authorizer_settings(patch: pytest.MonkeyPatch, settings: dict[str, str]) -> None:
    """The authorizer's settings become exactly ``settings`` (every other one unset), with metrics off."""
    for name in SETTING_NAMES:
        patch.delenv(name, raising=False)
    for name, value in ({"POWERTOOLS_METRICS_DISABLED": "true"} | settings).items():
        patch.setenv(name, value)
