"""Rotation under load: 50 parallel clients through the real edge while the CRL and the truststore change.
Invariants: zero wrong decisions (outside each change's refresh window), zero 5xx, memory stable.
NODEGATE_LOAD_SECONDS sets the duration (default 30)."""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from nodegate.local.demo import prepare
from nodegate.local.stack import BUCKET, Stack, running_stack
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, pem

SECONDS = float(os.environ.get("NODEGATE_LOAD_SECONDS", "30"))
CLIENTS = 50


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class Timeline:
    """When each change happened; outcomes within `window` after a change may be either way."""

    window: float
    events: dict[str, float] = field(default_factory=dict)

    def after(self, name: str, moment: float) -> bool | None:
        """True/False when `moment` is clearly after/before the change settled; None inside the window."""
        at = self.events.get(name)
        if at is None or moment < at:
            return False
        return True if moment > at + self.window else None


def outcome(stack: Stack, contexts: dict[str, ssl.SSLContext], who: str, node: str) -> str:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", stack.edge.server_address[1], context=contexts[who], timeout=20
    )
    try:
        connection.request("GET", f"/nodes/{node}/status")
        response = connection.getresponse()
        response.read()
        return str(response.status)
    except (ssl.SSLError, ConnectionError, OSError):
        return "tls"
    finally:
        connection.close()


def expected(who: str, timeline: Timeline, started: float, ended: float) -> set[str]:
    """The outcomes that are right for `who`, given when the request ran."""
    if who == "alice":
        return {"200"}
    if who in ("bob", "alice-other-node"):
        return {"403"}
    if who == "mallory":
        return {"tls"}
    if who == "erin":  # revoked during the run
        before, after = timeline.after("revoke-erin", started), timeline.after("revoke-erin", ended)
        return {"200"} if after is False else {"403"} if before is True else {"200", "403"}
    if who == "newcomer":  # CA added, then removed
        added_s, added_e = timeline.after("add-ca", started), timeline.after("add-ca", ended)
        removed_s, removed_e = timeline.after("remove-ca", started), timeline.after("remove-ca", ended)
        if removed_s is True:
            return {"tls"}
        if added_s is True and removed_e is False:
            return {"200"}
        if added_e is False:
            return {"tls"}
        # inside a window the TLS truststore and the authorizer's truststore refresh independently (as API
        # Gateway's and the Lambda's do): the handshake may pass while the authorizer still denies
        return {"200", "tls", "403"}
    raise AssertionError(who)


def test_rotation_under_load(tmp_path: Path) -> None:
    with running_stack(tmp_path / "pki") as stack:
        prepare(stack.pki)
        stack.pki.issue("erin", "node-5")
        newcomer_root = CertificateAuthority.root("newcomer root")
        newcomer_ca = newcomer_root.sub_ca("newcomer issuing")
        newcomer = newcomer_ca.issue(client_name("nina", "node-6"), with_crl_url=False, with_ocsp_url=False)
        (stack.pki.root / "clients" / "nina-node-6.pem").write_bytes(newcomer.cert_pem())
        (stack.pki.root / "clients" / "nina-node-6.key").write_bytes(newcomer.key_pem())
        roles = {
            "alice": ("alice-node-1", "node-1"),
            "alice-other-node": ("alice-node-1", "node-2"),
            "bob": ("bob-node-2", "node-2"),
            "mallory": ("mallory-node-1", "node-1"),
            "erin": ("erin-node-5", "node-5"),
            "newcomer": ("nina-node-6", "node-6"),
        }
        contexts = {}
        for who, (stem, _) in roles.items():
            context = ssl.create_default_context(cafile=str(stack.pki.root / "root-ca.pem"))
            context.load_cert_chain(
                f"{stack.pki.root / 'clients' / stem}.pem", f"{stack.pki.root / 'clients' / stem}.key"
            )
            contexts[who] = context
        window = max(float(stack.env["REVOCATION_CACHE_SECONDS"]), float(stack.env["TRUSTSTORE_REFRESH_SECONDS"])) + 3
        timeline = Timeline(window)
        for who, (_, node) in roles.items():  # warm-up, and the starting state
            assert outcome(stack, contexts, who, node) in expected(who, timeline, 0, 0), who
        baseline_rss = rss_mb()
        results: list[tuple[str, str, float, float]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + SECONDS

        def client(number: int) -> None:
            names = list(roles)
            turn = number
            while time.monotonic() < stop_at:
                who = names[turn % len(names)]
                turn += 1
                started = time.monotonic()
                got = outcome(stack, contexts, who, roles[who][1])
                with lock:
                    results.append((who, got, started, time.monotonic()))

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        s3 = boto3.client("s3")
        original = (stack.pki.root / "truststore.pem").read_bytes()
        time.sleep(SECONDS * 0.15)
        stack.pki.revoke(str(stack.pki.root / "clients" / "erin-node-5.pem"))
        timeline.events["revoke-erin"] = time.monotonic()
        time.sleep(SECONDS * 0.15)
        # the newcomer's certificates name no CDP or OCSP URL, so the CRL store is their source: a CA that joins
        # the truststore publishes its CRLs there first (README, "the store is the source of ...")
        for name, ca in (("newcomer-root", newcomer_root), ("newcomer-issuing", newcomer_ca)):
            s3.put_object(Bucket=BUCKET, Key=f"crls/{name}.crl", Body=crl_der(ca.crl({})))
        s3.put_object(Bucket=BUCKET, Key="truststore.pem", Body=original + pem(newcomer_root.cert, newcomer_ca.cert))
        timeline.events["add-ca"] = time.monotonic()
        time.sleep(SECONDS * 0.35)
        s3.put_object(Bucket=BUCKET, Key="truststore.pem", Body=original)
        timeline.events["remove-ca"] = time.monotonic()
        for thread in threads:
            thread.join(timeout=SECONDS + 60)
        growth = rss_mb() - baseline_rss

    wrong = [
        (who, got, round(s - timeline.events.get("revoke-erin", 0), 2))
        for who, got, s, e in results
        if got not in expected(who, timeline, s, e)
    ]
    counts = Counter((who, got) for who, got, _, _ in results)
    print(
        f"\n{len(results)} requests in {SECONDS:.0f} s from {CLIENTS} clients; outcomes: {dict(counts)}; "
        f"RSS growth {growth:.1f} MB"
    )
    assert len(results) > CLIENTS * 2
    assert not [r for r in results if r[1].startswith("5")], "the edge answered 5xx"
    assert wrong == [], wrong[:10]
    assert counts[("erin", "403")] > 0  # the revocation did bite during the run
    assert counts[("newcomer", "200")] > 0  # the added CA did work for a while
    assert growth < 60, f"RSS grew by {growth:.1f} MB"
