"""The CRL store on a directory: every file is listed (no 1,000-entry cap), unusable files fail closed."""

from __future__ import annotations

from pathlib import Path

from fixed import client, crl_bytes, root, sub
from nodegate_authorizer.names import canonical
from nodegate_authorizer.revocation.store import load_crl_store


def test_directory_store_lists_every_file(tmp_path: Path) -> None:
    other = root("Other")
    filler = crl_bytes(other)
    for i in range(1200):
        (tmp_path / f"a-{i:05d}.crl").write_bytes(filler)
    ca = sub(root())
    leaf = client(ca).cert
    (tmp_path / "zzz.crl").write_bytes(crl_bytes(ca, [leaf.serial_number]))
    store = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    assert len(store.entries) == 1201
    ((_, index),) = store.by_issuer[canonical(ca.cert.subject)]
    assert (canonical(ca.cert.subject), leaf.serial_number) in index.entries


def test_an_unusable_file_marks_the_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "good.crl").write_bytes(crl_bytes(root()))
    (tmp_path / "bad.crl").write_bytes(b"not a CRL")
    store = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    assert store.unavailable is not None
    assert "bad.crl" in store.unavailable
    again = load_crl_store(tmp_path.as_uri(), store, timeout=1, max_bytes=1 << 20)
    assert again.unavailable is not None  # still unusable when unchanged
