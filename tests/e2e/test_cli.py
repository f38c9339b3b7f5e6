"""The nodegate command as people run it: invoke on the sample events, the dev PKI, `pki serve`, `up`."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import os
import shlex
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from commands import NODEGATE, ROOT, run, serving, serving_process
from nodegate.aws.publish import check_bundle
from nodegate.local.stack import free_port
from nodegate.pki.authority import CertificateAuthority, pem, utcnow
from nodegate.pki.directory import REASONS, DevPki
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.ocsp import ocsp_answer, ocsp_request
from nodegate_authorizer.sources.http import fetch_url


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
    assert index.revoked.get(index.issuer, cert.serial_number) is not None
    crl = x509.load_der_x509_crl((pki / "crl" / "issuing.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
    issuer = x509.load_pem_x509_certificate((pki / "issuing-ca.pem").read_bytes())
    answer = ocsp.load_der_ocsp_response(DevPki(pki).ocsp("issuing", ocsp_request(cert, issuer)) or b"")
    assert answer.revocation_reason is x509.ReasonFlags.superseded
    assert run("pki", "revoke", str(pki), "deadbeef", "--reason", "remove_from_crl").returncode == 2
    usage = " ".join(run("pki", "revoke", "--help").stdout.split())
    assert all(name in usage for name in REASONS)
    bad = run("pki", "revoke", str(pki), "deadbeef")
    assert bad.returncode == 1
    assert "was not issued by the PKI in" in bad.stderr


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
        index = parse_crl(crl)
        assert index.revoked.get(index.issuer, cert.serial_number) is not None
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
    with serving("up", "--dir", str(tmp_path / "pki"), "--port", str(free_port())) as lines:
        hints = [line.split("#")[0].strip() for line in lines if line.startswith("  ")]
        commands = [hint for hint in hints if hint.startswith("curl ")]

        def status(command: str) -> str:
            args = [*shlex.split(command), "-o", "/dev/null", "-w", "%{http_code}"]
            return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout

        assert [status(command) for command in commands] == ["200", "403", "200", "200"], lines
        own = subprocess.run(shlex.split(commands[0]), capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(own.stdout)["userId"] == "alice"
        revoke = next(hint for hint in hints if " pki revoke " in hint)
        subprocess.run(shlex.split(revoke), capture_output=True, text=True, timeout=30, check=True)  # as printed
        deadline = time.monotonic() + 20  # the stack re-syncs CRLs every second; answers are cached 5 s
        while status(commands[3]) != "403" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status(commands[3]) == "403"
        explain = next(hint for hint in hints if " explain " in hint)
        edge_403 = subprocess.run(shlex.split(commands[1]), capture_output=True, text=True, timeout=30, check=True)
        explained = subprocess.run(["bash", "-c", explain], capture_output=True, text=True, timeout=60, check=False)
        assert explained.returncode == 1, explained.stderr  # as printed: Deny, with the edge's reason
        assert f"=> Deny {json.loads(edge_403.stdout)['reason']}:" in explained.stdout
        carol = explain.replace("alice-node-1.pem", "carol-node-3.pem").replace("--node node-2", "--node node-1")
        granted = subprocess.run(["bash", "-c", carol], capture_output=True, text=True, timeout=60, check=False)
        assert granted.returncode == 0, granted.stdout  # the demo policy's grant, as the edge applied it
        assert "by a grant in the access policy" in granted.stdout


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


def alice_whoami(pki: Path, ca: str, port: int) -> list[str]:
    """curl alice's node-1 ``whoami`` through the edge on ``port`` with her certificate."""
    stem = pki / "clients" / "alice-node-1"
    cert = ["--cert", f"{stem}.pem", "--key", f"{stem}.key"]
    return ["curl", "-sS", "--cacert", ca, *cert, f"https://127.0.0.1:{port}/nodes/node-1/whoami"]


def start_edge(pki: Path, port: int, backend_port: int) -> tuple[subprocess.Popen[str], str]:
    """`nodegate edge` with a throw-away server certificate, trusting ``pki``; returns it and the CA to trust."""
    env = os.environ | {
        "TRUSTSTORE_URI": (pki / "truststore.pem").as_uri(),
        "REVOCATION_MODE": "off",
        "PYTHONUNBUFFERED": "1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    edge = subprocess.Popen(
        [NODEGATE, "edge", "--port", str(port), "--backend", f"http://127.0.0.1:{backend_port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert edge.stdout
    ca = edge.stdout.readline().split("--cacert ")[1].strip()
    assert "edge on https://127.0.0.1" in edge.stdout.readline()
    return edge, ca


def test_edge_command_with_a_throwaway_server_certificate(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    run("pki", "init", str(pki), "--url", f"http://127.0.0.1:{free_port()}")
    run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1")
    node_port, edge_port = free_port(), free_port()
    edge, ca = start_edge(pki, edge_port, node_port)
    assert edge.stdout
    key = edge.stdout.readline().split("--assertion-key ")[1].strip()
    node = subprocess.Popen(
        [NODEGATE, "node", "--port", str(node_port), "--assertion-key", key], stdout=subprocess.PIPE, text=True
    )
    try:
        assert node.stdout
        assert "node backend on" in node.stdout.readline()
        out = subprocess.run(
            alice_whoami(pki, ca, edge_port),
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


def _held_backend(received: threading.Event, release: threading.Event) -> tuple[socket.socket, threading.Thread]:
    """A backend that reads one request, reports it, and answers 200 only when released."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            received.set()
            release.wait(20)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return listener, thread


def test_sigterm_stops_the_edge_after_the_request_in_flight(tmp_path: Path) -> None:
    """``kill`` (systemd, Ctrl-C) closes the listener at once but the request already inside is answered
    and logged, and the edge exits 0."""
    pki = tmp_path / "pki"
    run("pki", "init", str(pki), "--url", f"http://127.0.0.1:{free_port()}")
    run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1")
    received, release = threading.Event(), threading.Event()
    listener, backend = _held_backend(received, release)
    edge_port = free_port()
    edge, ca = start_edge(pki, edge_port, listener.getsockname()[1])
    try:
        curl = subprocess.Popen(
            alice_whoami(pki, ca, edge_port),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert received.wait(20), "the request never reached the backend"
        edge.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the listener closes while the request is still held
            try:
                socket.create_connection(("127.0.0.1", edge_port), timeout=1).close()
            except OSError:  # refused, or reset when the listener closed with this probe in its backlog
                break
            time.sleep(0.05)
        else:
            pytest.fail("the edge kept accepting connections after SIGTERM")
        assert edge.poll() is None  # still draining
        release.set()
        body, _ = curl.communicate(timeout=20)
        assert body == "ok", edge.stderr.read() if edge.stderr and edge.poll() is not None else body
        assert edge.wait(timeout=20) == 0
    finally:
        release.set()
        edge.kill()
        edge.wait(timeout=10)
        listener.close()
        backend.join(timeout=5)
    log = edge.stderr.read() if edge.stderr else ""
    assert '"status": 200' in log
    assert "Traceback" not in log


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


def test_pki_issue_checks_input_and_protects_existing_certificates(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    assert run("pki", "init", str(pki), "--url", "http://127.0.0.1:1").returncode == 0
    again = run("pki", "init", str(pki))
    assert (again.returncode, "already holds a PKI" in again.stderr) == (1, True)
    for bad in (
        ["--user", "bad user", "--node", "node-1"],
        ["--user", "alice", "--node", "../x"],
    ):
        result = run("pki", "issue", str(pki), *bad)
        assert result.returncode == 1, bad
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("nodegate pki: error: ")
    first = run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1")
    assert first.returncode == 0
    assert "serial " in first.stdout
    assert "valid until " in first.stdout
    old_serial = first.stdout.split("serial ")[1].split(",")[0]
    refused = run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1")
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    assert run("pki", "issue", str(pki), "--user", "alice", "--node", "node-1", "--force").returncode == 0
    listed = json.loads(run("pki", "list", str(pki), "--json").stdout)
    by_serial = {row["serial"]: row for row in listed}
    assert by_serial[old_serial]["reason"] == "superseded"
    assert [row["revoked_at"] is None for row in listed].count(True) == 1
    table = run("pki", "list", str(pki)).stdout
    assert old_serial in table
    assert "superseded" in table


def test_pki_revoke_is_idempotent_and_errors_name_the_problem(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    run("pki", "init", str(pki), "--url", "http://127.0.0.1:1")
    run("pki", "issue", str(pki), "--user", "bob", "--node", "node-2")
    cert = str(pki / "clients" / "bob-node-2.pem")
    assert run("pki", "revoke", str(pki), cert, "--reason", "superseded").returncode == 0
    first = json.loads(run("pki", "list", str(pki), "--json").stdout)[0]
    second = run("pki", "revoke", str(pki), cert, "--reason", "key_compromise")
    assert second.returncode == 0
    assert "already revoked" in second.stdout
    assert json.loads(run("pki", "list", str(pki), "--json").stdout)[0] == first  # date and reason unchanged
    missing = run("pki", "revoke", str(tmp_path / "nope"), "abc")
    assert missing.returncode == 1
    assert "is not a nodegate PKI" in missing.stderr
    unknown = run("pki", "revoke", str(pki), "abcdef")
    assert (unknown.returncode, "'" not in unknown.stderr.split("error: ")[1].split(" was")[0]) == (1, True)
    assert run("pki", "revoke", str(pki), "not-hex").stderr.endswith("neither a certificate file nor a hex serial\n")
    assert run("pki", "frobnicate").returncode == 2  # usage errors stay 2


def test_help_describes_commands_with_defaults_and_examples() -> None:
    top = run("--help").stdout
    assert "examples:" in top
    assert "exit codes" in top
    issue = run("pki", "issue", "--help").stdout
    assert "(default: 365)" in issue
    assert "Example: nodegate pki issue" in issue
    assert "the PKI directory" in issue
    assert "--policy" in run("up", "--help").stdout


def test_invoke_reads_stdin_checks_the_function_and_explains_missing_settings() -> None:
    event = (ROOT / "events" / "allow.json").read_text()
    piped = run("invoke", "-e", "-", "--env-vars", "events/env.json", stdin=event)
    assert piped.returncode == 0
    assert json.loads(piped.stdout)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    wrong = run("invoke", "-e", "events/allow.json", "--function", "AuthoriserFunction")
    assert wrong.returncode == 1
    assert "AuthorizerFunction" in wrong.stderr
    env = {k: v for k, v in os.environ.items() if k != "TRUSTSTORE_URI"}
    bare = run("invoke", "-e", "events/allow.json", env=env)
    assert json.loads(bare.stdout)["context"]["reason"] == "CONFIG_INVALID"
    assert "TRUSTSTORE_URI is not set" in bare.stderr


def test_ensure_venv_refuses_old_pythons_and_rebuilds_a_broken_venv(tmp_path: Path) -> None:
    """scripts/ensure-venv on a scratch project: a too-old or missing Python is named; a broken .venv is rebuilt."""
    import shutil

    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ensure-venv", tmp_path / "scripts" / "ensure-venv")
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "scratch"\nversion = "0"\n[tool.setuptools]\npackages = []\n'
    )
    script = str(tmp_path / "scripts" / "ensure-venv")
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9\nexit 1\n")
    old.chmod(0o755)
    refused = subprocess.run(["bash", script], env=os.environ | {"PYTHON": str(old)}, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "needs Python 3.11 or newer" in refused.stderr
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / ".venv" / "bin" / "python").chmod(0o755)
    rebuilt = subprocess.run(
        ["bash", script], env=os.environ | {"PYTHON": sys.executable}, capture_output=True, text=True, timeout=300
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilding .venv: it is broken" in rebuilt.stdout
    assert (tmp_path / ".venv" / ".installed").exists()


def test_generate_test_pki_has_help_and_never_overwrites_without_force() -> None:
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "certificates").rglob("*") if p.is_file()}
    script = str(ROOT / "scripts" / "generate-test-pki")
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0
    assert "--force" in helped.stdout
    refused = subprocess.run([script], capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1
    assert "--force replaces it" in refused.stdout
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "certificates").rglob("*") if p.is_file()} == before
    assert (ROOT / "certificates" / "README.md").exists()


def test_up_names_the_busy_port_and_what_it_was_for(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("up", "--dir", str(tmp_path / "pki"), "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for the edge" in result.stderr
    assert "Traceback" not in result.stderr


def test_publish_truststore_uploads_and_points_the_stack_at_key_and_version(
    tmp_path: Path, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against moto's S3, SSM and CloudFormation: a relative --bundle and --region, the stack's own key, the
    version written to the stack's SSM parameter, and clear errors."""
    import boto3

    from aws_stand_in import create_stand_in, describe_parameters_as_aws_does

    describe_parameters_as_aws_does(monkeypatch)
    env = os.environ | {"AWS_ENDPOINT_URL": s3_server}
    cloudformation, s3, ssm = (
        boto3.client(name, endpoint_url=s3_server, region_name="eu-west-1") for name in ("cloudformation", "s3", "ssm")
    )
    bucket = create_stand_in(cloudformation, s3, ssm, "ng-publish", TruststoreKey="ca/v2.pem")
    root = CertificateAuthority.root("publish root")
    (tmp_path / "cas.pem").write_bytes(pem(root.cert))

    def publish(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NODEGATE, "publish-truststore", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = publish("--bundle", "cas.pem", "--stack", "ng-publish", "--region", "eu-west-1", "--yes")
    assert done.returncode == 0, done.stderr
    listed = cloudformation.describe_stacks(StackName="ng-publish")["Stacks"][0]["Parameters"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in listed}
    assert parameters["TruststoreKey"] == "ca/v2.pem"
    version = ssm.get_parameter(Name="/ng-publish/truststore-version")["Parameter"]["Value"]
    assert {p["ParameterKey"]: p.get("ResolvedValue") for p in listed}["TruststoreVersionParameter"] == version
    assert s3.get_object(Bucket=bucket, Key="ca/v2.pem", VersionId=version)["Body"].read() == pem(root.cert)
    assert parameters["DomainName"] == "nodes.example.com"  # every other parameter kept
    missing = publish("--bundle", "cas.pem", "--stack", "no-such-stack", "--region", "eu-west-1")
    assert missing.returncode == 1
    assert missing.stderr.startswith("nodegate publish-truststore: error: ")
    assert "Traceback" not in missing.stderr
    unreadable = publish("--bundle", "nope.pem", "--check-only")
    assert (unreadable.returncode, "cannot read the bundle nope.pem" in unreadable.stderr) == (1, True)
    wrapper = subprocess.run(
        [str(ROOT / "scripts" / "publish-truststore"), "--bundle", "cas.pem", "--check-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert wrapper.returncode == 0, wrapper.stderr


def test_publish_truststore_region_defaults_to_samconfig() -> None:
    from nodegate.aws.session import samconfig_region

    assert samconfig_region() == "eu-west-1"


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="Linux with 2+ CPUs to choose from"
)
def test_up_runs_every_thread_on_one_cpu(tmp_path: Path) -> None:
    """Decision 19: one process under one interpreter lock hands each request from thread to thread; on one CPU a
    hand-off is a context switch, not a wake-up of the other CPU. Checked with a request in flight on a kept-alive
    connection, so the edge's and the node's connection threads exist too."""
    with serving_process("up", "--dir", str(tmp_path / "pki"), "--port", str(free_port())) as (process, lines):
        port = int(next(line for line in lines if line.startswith("edge ")).rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=str(tmp_path / "pki" / "root-ca.pem"))
        client = tmp_path / "pki" / "clients" / "alice-node-1"
        context.load_cert_chain(f"{client}.pem", f"{client}.key")
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
        connection.request("GET", "/nodes/node-1/whoami")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["userId"]) == (200, "alice")
        tasks = list(Path(f"/proc/{process.pid}/task").iterdir())
        allowed = {task.name: cpus_allowed(task) for task in tasks}
        connection.close()
    assert len(tasks) >= 8, allowed  # main, S3, CRL/OCSP, node, edge, CRL sync, and one per connection
    assert set(allowed.values()) == {str(min(os.sched_getaffinity(0)))}, allowed


def cpus_allowed(task: Path) -> str:
    """A thread's CPU set as /proc lists it (``Cpus_allowed_list``, e.g. ``0`` or ``0-1``)."""
    status = (task / "status").read_text()
    return next(line.split(":", 1)[1].strip() for line in status.splitlines() if line.startswith("Cpus_allowed_list"))
