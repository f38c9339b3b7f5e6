"""file:// sources as people point them at things: a FIFO, /dev/zero behind a symlink, a file over the size limit.
Each is an unusable source at once, within its limit: never a hang, never a MemoryError (review rev-C)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from conftest import Invoke
from nodegate_dev.world import World


def special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("setting", ["ACCESS_POLICY_URI", "TRUSTSTORE_URI"])
def test_a_special_file_is_an_unusable_source_at_once(
    world: World, invoke: Invoke, tmp_path: Path, kind: str, setting: str
) -> None:
    source = special(tmp_path, kind)
    answer: list[tuple[str, str | None, dict]] = []
    worker = threading.Thread(
        target=lambda: answer.append(invoke(world.client().cert_pem(), env={setting: source.as_uri()}))
    )
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the FIFO's reader so the test process can end, then fail
        with open(source, "wb"):
            pass
        pytest.fail(f"the handler blocks on a {kind} as {setting}")
    effect, reason, _ = answer[0]
    assert effect == "Deny"
    assert reason == ("POLICY_UNAVAILABLE" if setting == "ACCESS_POLICY_URI" else "TRUSTSTORE_UNAVAILABLE")


def test_special_files_in_the_crl_store_are_not_read(world: World, invoke: Invoke, tmp_path: Path) -> None:
    """The store lists regular files only: a FIFO or a device beside the CRLs is never opened."""
    store = tmp_path / "crls"
    store.mkdir()
    os.mkfifo(store / "pipe.crl")
    (store / "zero.crl").symlink_to("/dev/zero")
    answer: list[tuple[str, str | None, dict]] = []
    env = {"CRL_STORE_URI": store.as_uri() + "/"}
    worker = threading.Thread(target=lambda: answer.append(invoke(world.client().cert_pem(), env=env)))
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(store / "pipe.crl", "wb"):
            pass
        pytest.fail("the CRL store blocks on a FIFO")
    assert answer[0][1] != "INTERNAL_ERROR"


def test_a_file_over_the_limit_is_refused_without_reading_it(world: World, invoke: Invoke, tmp_path: Path) -> None:
    """A sparse 1 GiB policy file under FETCH_MAX_BYTES=1 MiB: refused by its size, not read into memory."""
    policy = tmp_path / "policy.json"
    with policy.open("wb") as handle:
        handle.truncate(1 << 30)
    effect, reason, _ = invoke(
        world.client().cert_pem(), env={"ACCESS_POLICY_URI": policy.as_uri(), "FETCH_MAX_BYTES": str(1 << 20)}
    )
    assert (effect, reason) == ("Deny", "POLICY_UNAVAILABLE")
