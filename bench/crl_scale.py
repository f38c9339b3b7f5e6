"""Large CRLs: load, first decision in a fresh process and peak memory, next to pyca's own floor.

The floor is what any authorizer that uses pyca must pay: ``load_der_x509_crl``, ``is_signature_valid`` and one
``get_revoked_certificate_by_serial_number``. Both run in a fresh interpreter and are timed from before their
imports; peak RSS is the process's VmHWM. CRLs are cached under .cache/bench/ (a 4M-entry CRL takes ~20 s)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from common import ROOT, new_world

from nodegate_dev.largecrl import large_crl_der
from nodegate_dev.world import World, event

FIRST_SERIAL = 0x10_0000_0000
STEP = 7
"""Revoked serials are FIRST_SERIAL, FIRST_SERIAL + STEP, ...; the leaf's serial is one of them or a neighbour."""

HWM = """
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
"""

FLOOR = (
    """
import json, os, sys, time
t0 = time.perf_counter()
from cryptography import x509
from cryptography.hazmat.primitives import serialization
"""
    + HWM
    + """
data = open(os.environ["BENCH_CRL"], "rb").read()
crl = x509.load_der_x509_crl(data)
key = x509.load_pem_x509_certificate(open(os.environ["BENCH_ISSUER"], "rb").read()).public_key()
assert crl.is_signature_valid(key)
entry = crl.get_revoked_certificate_by_serial_number(int(os.environ["BENCH_SERIAL"]))
t1 = time.perf_counter()
print(json.dumps({"first_ms": (t1 - t0) * 1000, "rss_mb": hwm(), "revoked": entry is not None}))
"""
)

NODEGATE = (
    """
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, os.environ["AUTHORIZER_DIR"])
import app
"""
    + HWM
    + """
event = json.loads(os.environ["BENCH_EVENT"])
response = app.lambda_handler(event, None)
t1 = time.perf_counter()
for _ in range(200):
    app.lambda_handler(event, None)
warm = (time.perf_counter() - t1) / 200 * 1000
print(json.dumps({"first_ms": (t1 - t0) * 1000, "rss_mb": hwm(), "warm_ms": warm,
                  "effect": response["policyDocument"]["Statement"][0]["Effect"],
                  "reason": response.get("context", {}).get("reason")}))
"""
)


def _run(script: str, env: dict[str, str]) -> dict[str, object]:
    full = (
        dict(os.environ) | env | {"AUTHORIZER_DIR": str(ROOT / "src" / "authorizer"), "POWERTOOLS_LOG_LEVEL": "ERROR"}
    )
    out = subprocess.run([sys.executable, "-c", script], env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _crl(world: World, entries: int) -> Path:
    """The world's issuing CA's CRL of ``entries`` entries (10 % with a reason code), in its CRL store."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    der = large_crl_der(
        world.issuing,
        range(FIRST_SERIAL, FIRST_SERIAL + STEP * entries, STEP),
        revoked_at=now - dt.timedelta(days=1),
        this_update=now - dt.timedelta(hours=1),
        next_update=now + dt.timedelta(days=7),
    )
    path = world.crl_store / "issuing.crl"
    path.write_bytes(der)
    return path


def rows(sizes: tuple[int, ...]) -> list[tuple[str, str, str, str]]:
    """For each size: the floor, nodegate's first decision and peak RSS in a fresh process, and its warm decision."""
    out: list[tuple[str, str, str, str]] = []
    for entries in sizes:
        world = new_world()
        crl = _crl(world, entries)
        issuer = world.tmp / "issuing.pem"
        issuer.write_bytes(world.issuing.cert_pem())
        middle = FIRST_SERIAL + STEP * (entries // 2)
        revoked = world.client(with_crl_url=False, with_ocsp_url=False, serial=middle).cert_pem()
        floor = _run(FLOOR, {"BENCH_CRL": str(crl), "BENCH_ISSUER": str(issuer), "BENCH_SERIAL": str(middle)})
        env = world.env(
            CRL_STORE_URI=world.crl_store.as_uri() + "/",
            REVOCATION_MODE="require",
            POWERTOOLS_METRICS_DISABLED="true",
        )
        decided = _run(NODEGATE, env | {"BENCH_EVENT": json.dumps(event(revoked))})
        label = f"{entries:,}-entry CRL ({crl.stat().st_size / 1e6:.0f} MB)"
        ratio = float(decided["first_ms"]) / float(floor["first_ms"])  # type: ignore[arg-type]
        extra = float(decided["rss_mb"]) - float(floor["rss_mb"])  # type: ignore[arg-type]
        out += [
            (
                f"{label}: pyca floor, fresh process",
                f"{floor['first_ms']:.0f} ms",
                "-",
                f"peak RSS {floor['rss_mb']:.0f} MB",
            ),
            (
                f"{label}: first decision, fresh process",
                f"{decided['first_ms']:.0f} ms",
                "-",
                f"{ratio:.2f}x floor; peak RSS {decided['rss_mb']:.0f} MB (+{extra:.0f} MB); "
                f"{decided['effect']} {decided['reason'] or ''}".rstrip(),
            ),
            (f"{label}: warm decision", f"{decided['warm_ms']:.3f} ms", "-", "mean of 200, same process"),
        ]
        world.close()
    return out


if __name__ == "__main__":
    for row in rows(tuple(int(n) for n in sys.argv[1:]) or (100_000,)):
        print(" | ".join(row))


def mirror_rows(cas: int = 10, entries: int = 10_000) -> list[tuple[str, str, str, str]]:
    """One CRL mirror run over ``cas`` issuing CAs (each CRL of ``entries`` entries, served on 127.0.0.1): every
    CRL new (fetched, verified, written), then again with nothing changed."""
    import time

    from nodegate.pki.authority import crl_der, pem
    from nodegate_authorizer.mirror_handler import run_from_environment

    world = new_world()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    urls = []
    issuing = []
    for n in range(cas):
        ca = world.root.sub_ca(f"bench issuing {n}")
        issuing.append(ca)
        world.responder.crl_override[f"ca{n}"] = large_crl_der(
            ca,
            range(FIRST_SERIAL, FIRST_SERIAL + STEP * entries, STEP),
            revoked_at=now - dt.timedelta(days=1),
            this_update=now - dt.timedelta(hours=1),
            next_update=now + dt.timedelta(days=1),
        )
        urls.append(f"{world.server.url}/crl/ca{n}.crl")
    world.responder.crl_override["root"] = crl_der(world.root.crl({}))  # the issuing CAs' own CDP: one version
    world.truststore.write_bytes(pem(world.root.cert, *(ca.cert for ca in issuing)))
    env = world.env(CRL_STORE_URI=world.crl_store.as_uri(), CRL_MIRROR_URLS=",".join(urls))
    out = []
    for label in ("every CRL new", "nothing changed"):
        started = time.perf_counter()
        report = run_from_environment(env, now)
        took = (time.perf_counter() - started) * 1000
        assert report.error is None, report.error
        actions = sorted({result.action for result in report.results})
        out.append(
            (
                f"CRL mirror, {cas} CAs x {entries:,} entries: {label}",
                f"{took:.0f} ms",
                "-",
                f"{len(report.results)} URLs: {', '.join(actions)}",
            )
        )
    world.close()
    return out
