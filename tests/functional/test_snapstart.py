"""SnapStart runtime hooks, called here as Lambda calls them: sources in a real moto S3 change between the
snapshot and the restore, and the first decision after the restore sees the new truststore, CRL store and
access policy; caches, the assertion key and ``random`` do not survive the restore; a source that cannot be
read after the restore fails closed (no value from the snapshot is served)."""

from __future__ import annotations

import importlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import snapshot_restore_py
from cryptography.hazmat.primitives.asymmetric import ec

from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, pem, utcnow
from nodegate_authorizer import handler, snapstart
from nodegate_authorizer.assertion import AssertionSigner, Claims
from nodegate_dev.world import World, decision, event


@pytest.fixture
def stored(world: World, bucket: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """The world's truststore, empty CRLs of its CAs and a policy that disables carol, in S3; the
    handler's environment points at them (with refresh intervals long enough to keep them for the test)."""
    s3, name = bucket
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    s3.put_object(Bucket=name, Key="crls/issuing.crl", Body=crl_der(world.issuing.crl({})))
    s3.put_object(Bucket=name, Key="crls/root.crl", Body=crl_der(world.root.crl({})))
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps({"version": 1, "disabledUsers": ["carol"]}).encode())
    env = world.env(
        TRUSTSTORE_URI=f"s3://{name}/ts.pem",
        CRL_STORE_URI=f"s3://{name}/crls/",
        ACCESS_POLICY_URI=f"s3://{name}/policy.json",
        REVOCATION_FETCH="store-only",
        REVOCATION_MODE="require",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler.reset()
    return s3, name


def decide(cert_pem: bytes, node: str = "node-1") -> tuple[str, str | None]:
    return decision(handler.lambda_handler(event(cert_pem, node)))


def test_app_registers_both_hooks_with_the_runtime_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Handler module (app.py, as Lambda loads it from the package root) registers them when imported."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "src" / "authorizer"))
    monkeypatch.delitem(sys.modules, "app", raising=False)
    before = len(snapshot_restore_py._before_snapshot_registry)
    after = len(snapshot_restore_py._after_restore_registry)
    importlib.import_module("app")
    assert snapshot_restore_py._before_snapshot_registry[before:] == [(snapstart.before_snapshot, (), {})]
    assert snapshot_restore_py._after_restore_registry[after:] == [(snapstart.after_restore, (), {})]


def test_sources_changed_while_the_snapshot_slept_are_read_after_restore(world: World, stored: tuple[Any, str]) -> None:
    s3, name = stored
    alice = world.client("alice", "node-1", with_crl_url=False, with_ocsp_url=False)
    carol = world.client("carol", "node-1", with_crl_url=False, with_ocsp_url=False)
    snapstart.before_snapshot()
    runtime = handler.kept_runtime()
    assert runtime is not None
    assert decide(alice.cert_pem()) == ("Allow", None)
    assert decide(carol.cert_pem()) == ("Deny", "POLICY_DENIED")
    assert len(runtime.revocation.evaluations) > 0
    # while the snapshot sleeps: alice is revoked, carol is enabled again, a new CA joins the truststore
    s3.put_object(
        Bucket=name,
        Key="crls/issuing.crl",
        Body=crl_der(world.issuing.crl({alice.cert.serial_number: utcnow()}, number=2)),
    )
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps({"version": 1}).encode())
    newcomer_root = CertificateAuthority.root("joined while asleep")
    newcomer = newcomer_root.issue(client_name("carol", "node-1"), with_crl_url=False, with_ocsp_url=False)
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes() + pem(newcomer_root.cert))
    s3.put_object(Bucket=name, Key="crls/new-root.crl", Body=crl_der(newcomer_root.crl({})))
    assert decide(alice.cert_pem()) == ("Allow", None)  # the snapshot's sources, until the restore
    snapstart.after_restore()
    assert handler.kept_runtime() is runtime
    assert decide(alice.cert_pem()) == ("Deny", "REVOKED")
    assert decide(carol.cert_pem()) == ("Allow", None)
    assert decide(newcomer.cert_pem()) == ("Allow", None)


def test_a_source_unreadable_after_restore_fails_closed(world: World, stored: tuple[Any, str]) -> None:
    s3, name = stored
    alice = world.client("alice", "node-1", with_crl_url=False, with_ocsp_url=False)
    snapstart.before_snapshot()
    assert decide(alice.cert_pem()) == ("Allow", None)
    s3.delete_object(Bucket=name, Key="ts.pem")
    snapstart.after_restore()  # logs, does not raise
    assert decide(alice.cert_pem()) == ("Deny", "TRUSTSTORE_UNAVAILABLE")
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    assert decide(alice.cert_pem()) == ("Allow", None)


def test_caches_and_random_state_do_not_survive_the_restore(world: World, stored: tuple[Any, str]) -> None:
    alice = world.client("alice", "node-1", with_crl_url=False, with_ocsp_url=False)
    snapstart.before_snapshot()
    assert decide(alice.cert_pem()) == ("Allow", None)
    runtime = handler.kept_runtime()
    assert runtime is not None
    assert len(runtime.revocation.evaluations) > 0
    frozen = random.getstate()
    snapstart.after_restore()
    assert len(runtime.revocation.evaluations) == 0
    restored = random.random()
    random.setstate(frozen)
    assert restored != random.random()  # every restored environment draws its own sequence


def test_the_assertion_key_of_the_snapshot_is_not_used_after_restore() -> None:
    """Two environments restored from one snapshot must not sign with one key: ``forget`` drops it, and a new
    key's scalar comes from os.urandom. The certifier is a real P-256 key standing in for KMS."""
    kms = ec.generate_private_key(ec.SECP256R1())
    signer = AssertionSigner("alias/test", lambda message: kms.sign(message, ec.ECDSA(snapstart_hash())))
    claims = Claims("req-1", "GET", "/nodes/node-1", "node-1", "alice", "CN=alice")
    first = signer.sign(claims, 1_000.0).split(".")[0]
    assert signer.sign(claims, 1_001.0).split(".")[0] == first
    signer.forget()
    assert signer.sign(claims, 1_002.0).split(".")[0] != first


def snapstart_hash() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()
