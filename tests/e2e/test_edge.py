"""The local edge with real TLS sockets: the whole stack (moto S3, CRL/OCSP, node backend, edge)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodegate.local.demo import CASES, demo_stack, run_case
from nodegate.local.edge import ApiIdentity, build_event, policy_allows
from nodegate.local.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with demo_stack(tmp_path_factory.mktemp("stack") / "pki") as running:
        yield running


def call(
    stack: Stack,
    client: str | None,
    path: str,
    method: str = "GET",
    headers: dict | None = None,
    body: bytes | None = None,
) -> tuple[int, dict]:
    context = ssl.create_default_context(cafile=str(stack.pki.root / "root-ca.pem"))
    if client:
        stem = stack.pki.root / "clients" / client
        context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    connection = http.client.HTTPSConnection("127.0.0.1", stack.edge.server_address[1], context=context, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.title)
def test_demo_cases_with_curl(stack: Stack, case) -> None:
    got, seen = run_case(stack, case)
    assert got == case.expect, seen


def test_readme_demo_table_lists_every_case() -> None:
    """The README shows `make demo`'s table: one row per case, with the case's expectation."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {line[:38].strip(): line[38:].split()[0] for line in readme.splitlines() if line[38:46].strip()}
    assert {case.title: case.expect for case in CASES}.items() <= rows.items()


def test_backend_sees_identity_from_the_certificate_only(stack: Stack) -> None:
    spoof = {"X-User-Id": "root", "X-Node-Id": "node-9", "X-Client-Cert-Sub": base64.b64encode(b"CN=evil").decode()}
    status, body = call(stack, "alice-node-1", "/nodes/node-1/whoami", headers=spoof)
    assert status == 200
    subject = "CN=node-1,UID=alice,O=nodegate operators"
    assert body == {"userId": "alice", "nodeId": "node-1", "subject": subject, "identityRule": "operators"}


def test_revocation_while_running_is_enforced(stack: Stack) -> None:
    stack.pki.issue("erin", "node-7")
    assert call(stack, "erin-node-7", "/nodes/node-7/status")[0] == 200
    stack.pki.revoke(str(stack.pki.root / "clients" / "erin-node-7.pem"))
    revoked_at = time.monotonic()
    window = float(stack.env["REVOCATION_CACHE_SECONDS"])
    # answers are cached for at most REVOCATION_CACHE_SECONDS: the revocation must bite within that window
    while True:
        status, body = call(stack, "erin-node-7", "/nodes/node-7/status")
        if status != 200 or time.monotonic() - revoked_at > window + 3:
            break
        time.sleep(0.25)
    assert (status, body.get("reason")) == (403, "REVOKED")
    assert time.monotonic() - revoked_at <= window + 3


def test_unknown_route_and_post_body(stack: Stack) -> None:
    assert call(stack, "alice-node-1", "/admin") == (403, {"message": "Missing Authentication Token"})
    status, body = call(stack, "alice-node-1", "/nodes/node-1/echo", method="POST", body=b"ping")
    assert (status, body["body"], body["caller"]) == (200, "ping", "alice")


def test_handshake_refused_without_certificate(stack: Stack) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(stack, None, "/nodes/node-1/whoami")


def test_backend_refuses_requests_without_identity_headers(stack: Stack) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stack.node.server_address[1], timeout=5)
    connection.request("GET", "/nodes/node-1/whoami", headers={"X-User-Id": "alice"})
    assert connection.getresponse().status == 401
    connection.close()


def test_event_has_the_fields_aws_documents(tmp_path: Path, stack: Stack) -> None:
    der = ssl.PEM_cert_to_DER_cert((stack.pki.root / "clients" / "alice-node-1.pem").read_text())
    event = build_event(ApiIdentity(), "GET", "/nodes/node-1/a/b", "x=1&x=2", {"Host": "h"}, "127.0.0.1", der)
    assert event is not None
    # REQUEST authorizer input, REST API (docs: "Input to an API Gateway Lambda authorizer")
    assert set(event) == {
        "type",
        "methodArn",
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
    }
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:local0api1/prod/GET/nodes/node-1/a/b"
    assert event["pathParameters"] == {"nodeId": "node-1", "proxy": "a/b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2"}
    context = event["requestContext"]
    assert {"accountId", "apiId", "stage", "requestId", "resourcePath", "httpMethod", "identity"} <= set(context)
    cert = context["identity"]["clientCert"]
    assert set(cert) == {"clientCertPem", "subjectDN", "issuerDN", "serialNumber", "validity"}
    assert set(cert["validity"]) == {"notBefore", "notAfter"}
    # OpenSSL date format, e.g. "Aug  5 09:36:04 2021 GMT"
    assert cert["validity"]["notAfter"].endswith(" GMT")
    assert len(cert["validity"]["notAfter"]) == 24
    assert all(len(part) == 2 for part in cert["serialNumber"].split(":"))
    assert build_event(ApiIdentity(), "GET", "/other", "", {}, "127.0.0.1", der) is None


def test_policy_evaluation_matches_api_gateway_rules() -> None:
    arn = "arn:aws:execute-api:us-east-1:1:api/prod/GET/nodes/node-1/x"

    def policy(*statements: tuple[str, str]) -> dict:
        return {
            "principalId": "p",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": e, "Resource": [r]} for e, r in statements],
            },
        }

    assert policy_allows(policy(("Allow", "arn:aws:execute-api:us-east-1:1:api/prod/*/nodes/node-1/*")), arn)
    assert not policy_allows(policy(("Allow", "arn:aws:execute-api:us-east-1:1:api/prod/*/nodes/node-2/*")), arn)
    assert not policy_allows(policy(("Allow", "*"), ("Deny", "arn:aws:execute-api:us-east-1:1:api/prod/*/*")), arn)
    assert policy_allows(policy(("Allow", "arn:aws:execute-api:us-east-1:1:api/prod/G?T/nodes/node-1/x")), arn)
    assert policy_allows({"policyDocument": {}}, arn) is None
    assert policy_allows("not a dict", arn) is None


def test_curl_is_the_client_people_use(stack: Stack) -> None:
    stem = stack.pki.root / "clients" / "alice-node-1"
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            str(stack.pki.root / "root-ca.pem"),
            "--cert",
            f"{stem}.pem",
            "--key",
            f"{stem}.key",
            f"{stack.edge.url}/nodes/node-1/whoami",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    )
    assert json.loads(out.stdout)["userId"] == "alice"


def test_refused_handshakes_reach_curl_as_tls_alerts(stack: Stack, tmp_path: Path) -> None:
    """50 refused handshakes in a row (no certificate, untrusted CA): every one ends in the TLS alert."""
    from nodegate.pki.authority import CertificateAuthority, client_name

    stranger = CertificateAuthority.root("stranger").issue(client_name("alice", "node-1"))
    (tmp_path / "stranger.pem").write_bytes(stranger.cert_pem())
    (tmp_path / "stranger.key").write_bytes(stranger.key_pem())
    base = ["curl", "-sS", "--cacert", str(stack.pki.root / "root-ca.pem"), f"{stack.edge.url}/nodes/node-1/whoami"]
    untrusted = ["--cert", str(tmp_path / "stranger.pem"), "--key", str(tmp_path / "stranger.key")]
    outcomes = []
    for attempt in range(50):
        result = subprocess.run(base + (untrusted if attempt % 2 else []), capture_output=True, text=True)
        outcomes.append((result.returncode, "alert" in result.stderr or "0A00045C" in result.stderr))
    assert outcomes.count((56, True)) == 50, [o for o in outcomes if o != (56, True)][:5]


def raw_exchange(stack: Stack, client: str, request: bytes, *, wait: float = 5.0) -> bytes:
    """Send ``request`` bytes over mTLS as they are, and read until the edge closes or ``wait`` passes."""
    import socket

    context = ssl.create_default_context(cafile=str(stack.pki.root / "root-ca.pem"))
    stem = stack.pki.root / "clients" / client
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    address = ("127.0.0.1", stack.edge.server_address[1])
    with (
        socket.create_connection(address, timeout=wait) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(request)
        chunks = []
        try:
            while chunk := tls.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ssl.SSLError, OSError):
            pass
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


GET = b"GET /nodes/node-1/echo HTTP/1.1\r\nHost: edge\r\n"


@pytest.mark.parametrize(
    ("framing", "status"),
    [
        (b"Content-Length: -1\r\n", 400),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: +5\r\n", 400),
        (b"Content-Length: 0\r\nContent-Length: 5\r\n", 400),
        (b"Content-Length: 5, 6\r\n", 400),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
        (b"Transfer-Encoding: gzip, chunked\r\n", 400),
        (b"Content-Length: 999999999999\r\n", 413),
        (b"X-Big: " + b"a" * 11000 + b"\r\n", 431),
    ],
    ids=["negative", "non-numeric", "signed", "two-lengths", "list", "te-and-cl", "te-gzip", "too-big", "headers"],
)
def test_message_framing_is_refused_before_any_body_is_read(stack: Stack, framing: bytes, status: int) -> None:
    started = time.monotonic()
    response = raw_exchange(stack, "alice-node-1", GET + framing + b"\r\n")
    assert status_of(response) == status, response[:200]
    assert b"connection: close" in response.lower()
    assert time.monotonic() - started < 3


def test_chunked_body_is_read_to_its_end_and_not_smuggled(stack: Stack) -> None:
    smuggled = b"GET /nodes/node-2/whoami HTTP/1.1\r\nHost: edge\r\n\r\n"
    chunked = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    request = (
        b"POST /nodes/node-1/echo HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    response = raw_exchange(stack, "alice-node-1", request + chunked)
    assert status_of(response) == 200
    assert response.count(b"HTTP/1.1 ") == 1  # the "request" inside the body was body, not a request
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["body"] == smuggled.decode()


def test_a_client_gone_mid_request_is_one_log_line_not_a_traceback(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """A truncated chunked body, then EOF: a 400 if the client still listens, else one access-log line."""
    entries: list[dict[str, object]] = []
    logger, stack.edge.access_log = stack.edge.access_log, entries.append
    try:
        request = b"POST /nodes/node-1/echo HTTP/1.1\r\nHost: edge\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
        for _ in range(5):
            assert status_of(raw_exchange(stack, "alice-node-1", request, wait=2)) in (0, 400)
        deadline = time.monotonic() + 5  # the server thread may still be writing its line
        while len([e for e in entries if "framingError" in e or "connectionError" in e]) < 5:
            assert time.monotonic() < deadline, entries
            time.sleep(0.05)
    finally:
        stack.edge.access_log = logger
    assert "Traceback" not in capfd.readouterr().err


def test_expect_100_continue_is_answered_before_the_body(stack: Stack) -> None:
    """RFC 9110 10.1.1: the edge sends ``100 Continue`` at once (its final answers are written in one piece when
    the handler returns; the interim one must not wait for that), then the answer to the body sent after it."""
    context = ssl.create_default_context(cafile=str(stack.pki.root / "root-ca.pem"))
    stem = stack.pki.root / "clients" / "alice-node-1"
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    head = b"POST /nodes/node-1/echo HTTP/1.1\r\nHost: edge\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", stack.edge.server_address[1]), timeout=2) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(head)
        reader = tls.makefile("rb")
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        tls.sendall(b"hello")
        assert reader.readline().startswith(b"HTTP/1.1 200 ")
        fields = dict(line.decode().split(": ", 1) for line in iter(reader.readline, b"\r\n"))
        assert json.loads(reader.read(int(fields["Content-Length"])))["body"] == "hello"


def test_refused_client_body_is_never_read(stack: Stack) -> None:
    """A client denied by the authorizer announces 300 MiB: the 403 comes before any of it is sent."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    request = b"POST /nodes/node-2/echo HTTP/1.1\r\nHost: edge\r\nContent-Length: 314572800\r\n\r\n"
    started = time.monotonic()
    response = raw_exchange(stack, "alice-node-1", request)  # alice may not call node-2
    assert status_of(response) == 413  # over the edge's body limit: refused before the authorizer even runs
    request = b"POST /nodes/node-2/echo HTTP/1.1\r\nHost: edge\r\nContent-Length: 5000000\r\n\r\n"
    response = raw_exchange(stack, "alice-node-1", request)
    assert status_of(response) == 403
    assert time.monotonic() - started < 5
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 20


def test_slow_clients_are_cut_off(stack: Stack, capfd: pytest.CaptureFixture[str]) -> None:
    """Slowloris: headers that never finish are cut at the header deadline, not waited for. The parser reads the
    cut as the end of the header section: the half request is logged, never authorized, and no traceback."""
    entries: list[dict[str, object]] = []
    logger, stack.edge.access_log = stack.edge.access_log, entries.append
    stack.edge.header_seconds = 1.0
    try:
        started = time.monotonic()
        response = raw_exchange(stack, "alice-node-1", b"GET /nodes/node-1/whoami HTTP/1.1\r\nX-Slow: 1\r\n", wait=10)
        assert response == b""
        assert time.monotonic() - started < 3
        while not entries:  # the server thread may still be writing its line
            assert time.monotonic() - started < 8
            time.sleep(0.05)
    finally:
        stack.edge.header_seconds = 10.0
        stack.edge.access_log = logger
    assert entries == [
        {"ip": "127.0.0.1", "method": "GET", "path": "/nodes/node-1/whoami", "status": None,
         "framingError": "header section cut off at its deadline"}
    ]  # fmt: skip
    assert "Traceback" not in capfd.readouterr().err
