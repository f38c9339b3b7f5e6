"""The nodegate command as people run it: invoke on the sample events, the dev PKI, `pki serve`, `up`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509

from nodegate.pki import CertificateAuthority, pem, utcnow
from nodegate.publish import check_bundle
from nodegate.stack import free_port
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.ocsp import ocsp_answer, ocsp_request
from nodegate_authorizer.sources.http import fetch_url

ROOT = Path(__file__).resolve().parent.parent
NODEGATE = str(Path(sys.executable).parent / "nodegate")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODEGATE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("sample", "effect", "reason"),
    [
        ("allow", "Allow", None),
        ("other-node", "Deny", "NODE_MISMATCH"),
        ("revoked", "Deny", "REVOKED"),
        ("expired", "Deny", "EXPIRED"),
        ("no-cert", "Deny", "NO_CLIENT_CERT"),
        ("malformed-pem", "Deny", "MALFORMED_CERT"),
    ],
)
def test_invoke_sample_events_like_sam_local_invoke(sample: str, effect: str, reason: str | None) -> None:
    result = run("invoke", "-e", f"events/{sample}.json", "--env-vars", "events/env.json")
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["policyDocument"]["Statement"][0]["Effect"] == effect
    assert response.get("context", {}).get("reason") == reason


def test_pki_commands_write_private_keys_0600_and_revoke_publishes_crl(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("pki", "init", str(pki), "--url", "http://127.0.0.1:1").returncode == 0
    issued = run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1", "--days", "30")
    assert issued.returncode == 0, issued.stderr
    for key in [*pki.glob("*.key"), *(pki / "clients").glob("*.key"), *(pki / "clients").glob("*.p12")]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    cert = x509.load_pem_x509_certificate((pki / "clients" / "alice-node-1.pem").read_bytes())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30)
    revoked = run("pki", "revoke", str(pki), str(pki / "clients" / "alice-node-1.pem"), "--reason", "superseded")
    assert revoked.returncode == 0, revoked.stderr
    index = parse_crl((pki / "crl" / "issuing.crl").read_bytes())
    assert cert.serial_number in {serial for _, serial in index.entries}
    bad = run("pki", "revoke", str(pki), "deadbeef")
    assert bad.returncode == 2
    assert "not issued by this PKI" in bad.stderr


def test_pki_serve_answers_crl_and_ocsp(tmp_path: Path) -> None:
    port = free_port()
    pki = tmp_path / "pki"
    run("pki", "init", str(pki), "--url", f"http://127.0.0.1:{port}")
    run("pki", "issue", str(pki), "--user", "bob", "--node", "node-2")
    run("pki", "revoke", str(pki), str(pki / "clients" / "bob-node-2.pem"))
    server = subprocess.Popen([NODEGATE, "pki", "serve", str(pki)], stdout=subprocess.PIPE, text=True)
    try:
        assert "OCSP at" in (server.stdout.readline() if server.stdout else "")
        cert = x509.load_pem_x509_certificate((pki / "clients" / "bob-node-2.pem").read_bytes())
        issuer = x509.load_pem_x509_certificate((pki / "issuing-ca.pem").read_bytes())
        loopback = (ipaddress.ip_network("127.0.0.0/8"),)
        crl = fetch_url(
            f"http://127.0.0.1:{port}/crl/issuing.crl", timeout=5, max_bytes=1 << 20, allowed_networks=loopback
        )
        assert cert.serial_number in {serial for _, serial in parse_crl(crl).entries}
        body = fetch_url(
            f"http://127.0.0.1:{port}/ocsp/issuing",
            body=ocsp_request(cert, issuer),
            content_type="application/ocsp-request",
            timeout=5,
            max_bytes=1 << 20,
            allowed_networks=loopback,
        )
        now = dt.datetime.now(dt.UTC)
        answer = ocsp_answer("ocsp", body, cert, issuer, now, dt.timedelta(seconds=60), dt.timedelta(hours=1))
        assert answer.status.value == "revoked"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_up_prints_curl_commands_that_work_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [NODEGATE, "up", "--dir", str(tmp_path / "pki"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.stdout:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C" in line:
                break
        commands = [line.strip() for line in lines if line.strip().startswith("curl ")]
        assert len(commands) == 2, lines
        own = subprocess.run(shlex.split(commands[0]), capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(own.stdout)["userId"] == "alice"
        other = subprocess.run(
            [*shlex.split(commands[1].split("#")[0]), "-o", "/dev/null", "-w", "%{http_code}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert other.stdout == "403"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_publish_truststore_checks_the_bundle() -> None:
    now = utcnow()
    root = CertificateAuthority.root("root")
    chain = [root]
    for depth in range(4):
        chain.append(chain[-1].sub_ca(f"level {depth}", path_length=None))
    assert check_bundle(pem(root.cert, chain[1].cert), now) == []
    assert any("depth 5 exceeds 4" in p for p in check_bundle(pem(*(c.cert for c in chain)), now))
    leaf = chain[1].issue(x509.Name([]))
    problems = check_bundle(pem(root.cert, leaf.cert), now)
    assert any("not a CA" in p for p in problems)
    assert any("not in the bundle" in p for p in problems)
    assert any("expired" in p for p in check_bundle(pem(root.cert), now + dt.timedelta(days=4000)))
    assert check_bundle(b"garbage", now)[0].startswith("not a PEM certificate bundle")
    assert "no self-signed root" in check_bundle(pem(chain[1].cert), now)[-1]


def test_edge_command_with_a_throwaway_server_certificate(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    run("pki", "init", str(pki), "--url", f"http://127.0.0.1:{free_port()}")
    run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1")
    node_port, edge_port = free_port(), free_port()
    env = os.environ | {
        "TRUSTSTORE_URI": (pki / "truststore.pem").as_uri(),
        "REVOCATION_MODE": "off",
        "PYTHONUNBUFFERED": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    node = subprocess.Popen([NODEGATE, "node", "--port", str(node_port)], stdout=subprocess.PIPE, text=True)
    edge = subprocess.Popen(
        [NODEGATE, "edge", "--port", str(edge_port), "--backend", f"http://127.0.0.1:{node_port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert node.stdout
        assert "node backend on" in node.stdout.readline()
        banner = edge.stdout.readline() if edge.stdout else ""
        ca = banner.split("--cacert ")[1].strip()
        assert "edge on https://127.0.0.1" in (edge.stdout.readline() if edge.stdout else "")
        stem = pki / "clients" / "alice-node-1"
        out = subprocess.run(
            [
                "curl",
                "-sS",
                "--cacert",
                ca,
                "--cert",
                f"{stem}.pem",
                "--key",
                f"{stem}.key",
                f"https://127.0.0.1:{edge_port}/nodes/node-1/whoami",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(out.stdout)["userId"] == "alice"
    finally:
        for process in (edge, node):
            process.terminate()
            process.wait(timeout=10)
    assert '"status": 200' in (edge.stderr.read() if edge.stderr else "")  # the access log line


def test_explain_shows_every_step_for_allow_deny_and_policy_grants(tmp_path: Path) -> None:
    allowed = run(
        "explain",
        "--cert",
        "certificates/alice-node-1.pem",
        "--node",
        "node-1",
        "--env-vars",
        "events/env.json",
        "--json",
    )
    assert allowed.returncode == 0, allowed.stderr
    report = json.loads(allowed.stdout)
    assert report["decision"] == "Allow"
    assert [c["role"] for c in report["path"]] == ["leaf", "intermediate 1", "anchor"]
    assert [r["answers"][0]["status"] for r in report["revocation"]] == ["good", "good"]
    assert "certificates/crls/issuing.crl" in report["revocation"][0]["answers"][0]["detail"]
    assert report["grant"]["rule"] == "the certificate's own node"
    assert report["response"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"

    revoked = run(
        "explain", "--cert", "certificates/bob-node-2-revoked.pem", "--node", "node-2", "--env-vars", "events/env.json"
    )
    assert revoked.returncode == 1
    assert "crl: REVOKED" in revoked.stdout
    assert "=> Deny REVOKED" in revoked.stdout

    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"version": 1, "grants": [{"user": "alice", "nodes": ["node-2"], "methods": ["GET"]}]})
    )
    env = json.loads((ROOT / "events" / "env.json").read_text())
    env["AuthorizerFunction"]["ACCESS_POLICY_URI"] = policy.as_uri()
    (tmp_path / "env.json").write_text(json.dumps(env))
    granted = run(
        "explain",
        "--cert",
        "certificates/alice-node-1.pem",
        "--node",
        "node-2",
        "--env-vars",
        str(tmp_path / "env.json"),
    )
    assert granted.returncode == 0, granted.stdout
    assert "4. policy: node node-2, methods ['GET'], by a grant in the access policy" in granted.stdout
    posted = run(
        "explain",
        "--cert",
        "certificates/alice-node-1.pem",
        "--node",
        "node-2",
        "--method",
        "POST",
        "--env-vars",
        str(tmp_path / "env.json"),
        "--json",
    )
    assert json.loads(posted.stdout)["reason"] == "POLICY_DENIED"
    from_event = run("explain", "-e", "events/revoked.json", "--env-vars", "events/env.json", "--json")
    assert json.loads(from_event.stdout)["reason"] == "REVOKED"
