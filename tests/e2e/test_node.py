"""The node backend over real sockets: only a valid assertion from the authorizer admits a request (forged,
expired, replayed, other-node, other-path and missing assertions get 401), built-in routes, and reverse proxying
of a routed node to its upstream (method, path, query, body, headers, streaming, 502/504)."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from nodegate.local.edge import local_certifier
from nodegate.local.stack import free_port
from nodegate.local.upstream import UpstreamServer
from nodegate.pki.server import POLL_SECONDS
from nodegate_authorizer.assertion import ASSERTION_SECONDS, AssertionSigner, Claims
from nodegate_node import server as node_module
from nodegate_node.assertion import AssertionVerifier, Refused, load_public_key
from nodegate_node.server import NodeServer, identity_headers, load_routes

SUBJECT = "CN=node-3,UID=carol"
IDENTITY = {
    "X-Client-Cert-Sub": base64.b64encode(SUBJECT.encode()).decode(),
    "X-User-Id": "carol",
    "X-Node-Id": "node-3",
}
KMS_KEY = ec.generate_private_key(ec.SECP256R1())
"""Stands in for the stack's KMS key (the same ECDSA_SHA_256 DER signatures as KMS Sign)."""
SIGNER = AssertionSigner("local", local_certifier(KMS_KEY))


def assertion(
    method: str,
    path: str,
    node: str = "node-3",
    *,
    user: str = "carol",
    at: float | None = None,
    request_id: str | None = None,
    signer: AssertionSigner = SIGNER,
) -> dict[str, str]:
    """The headers API Gateway sends after an Allow: identity and the signed assertion for this request."""
    claims = Claims(request_id or str(uuid.uuid4()), method, path, node, user, SUBJECT)
    token = signer.sign(claims, time.time() if at is None else at)
    return IDENTITY | {"X-Node-Id": node, "X-Nodegate-Assertion": token}


FIRST_CHUNK_SEEN = threading.Event()
"""Set by a test once the first chunk of ``/trickle`` reached it; the upstream ends the answer then."""


class Streaming(http.server.BaseHTTPRequestHandler):
    """An upstream that streams 4 MiB in chunks, stalls (``/stall``), or sends one chunk and waits until the client
    saw it before it ends (``/trickle``)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/stall"):
            time.sleep(3)
            return
        if self.path.startswith("/trickle"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            FIRST_CHUNK_SEEN.wait(5)
            self.wfile.write(b"4\r\nlast\r\n0\r\n\r\n")
            return
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(64):
            chunk = b"x" * 65536
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(server: http.server.HTTPServer) -> None:
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()


@pytest.fixture
def upstreams() -> Iterator[dict[str, str]]:
    echo = UpstreamServer().start()
    streaming = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Streaming)
    streaming.daemon_threads = True
    serve(streaming)
    yield {
        "node-3": echo.url,
        "node-5": f"http://127.0.0.1:{streaming.server_address[1]}",
        "node-6": f"http://127.0.0.1:{free_port()}",
    }
    for server in (echo, streaming):
        server.shutdown()
        server.server_close()


@pytest.fixture
def node(upstreams: dict[str, str]) -> Iterator[NodeServer]:
    server = NodeServer(AssertionVerifier(KMS_KEY.public_key()), "127.0.0.1", 0, upstreams)
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


def call(
    node: NodeServer, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", node.server_address[1], timeout=15)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def test_routed_node_is_proxied_with_its_identity(node: NodeServer) -> None:
    headers = assertion("PATCH", "/nodes/node-3/api/v1/items") | {"Connection": "keep-alive, Te", "Te": "trailers"}
    headers |= {"X-Custom": "kept", "X-User-Id": "mallory"}  # the identity comes from the assertion only
    status, data = call(node, "PATCH", "/nodes/node-3/api/v1/items?limit=2&x=%20y", headers, b'{"a": 1}')
    assert status == 200
    seen = json.loads(data)
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == (
        "PATCH",
        "/api/v1/items",
        "limit=2&x=%20y",
        '{"a": 1}',
    )
    assert (seen["caller"], seen["node"]) == ("carol", "node-3")
    assert seen["hopByHop"] == []  # Connection and Te were not forwarded
    status, data = call(node, "GET", "/nodes/node-3/whoami", assertion("GET", "/nodes/node-3/whoami"))
    assert json.loads(data) == {
        "subject": SUBJECT,
        "userId": "carol",
        "nodeId": "node-3",
        "identityRule": "default",
    }  # local
    assert call(node, "GET", "/healthz", {})[0] == 200


def test_proxy_refuses_without_identity_and_for_other_nodes(node: NodeServer) -> None:
    assert call(node, "GET", "/nodes/node-3/api", {})[0] == 401
    assert call(node, "GET", "/nodes/node-5/api", assertion("GET", "/nodes/node-3/api"))[0] == 401


def test_proxy_streams_large_answers(node: NodeServer) -> None:
    status, data = call(node, "GET", "/nodes/node-5/big", assertion("GET", "/nodes/node-5/big", "node-5"))
    assert (status, len(data)) == (200, 64 * 65536)


def test_proxy_passes_each_chunk_on_as_it_comes(node: NodeServer) -> None:
    """The node's answers are buffered, but a proxied answer's head and chunks leave as the upstream sends them:
    the first chunk reaches the client while the upstream still waits for the client to have seen it."""
    FIRST_CHUNK_SEEN.clear()
    connection = http.client.HTTPConnection("127.0.0.1", node.server_address[1], timeout=3)
    connection.request("GET", "/nodes/node-5/trickle", headers=assertion("GET", "/nodes/node-5/trickle", "node-5"))
    response = connection.getresponse()
    assert response.status == 200
    assert response.read1(5) == b"first"  # a TimeoutError here: the chunk waited in the node's buffer
    FIRST_CHUNK_SEEN.set()
    assert response.read() == b"last"
    connection.close()


def test_upstream_failures_are_502_and_504(node: NodeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    down = call(node, "GET", "/nodes/node-6/x", assertion("GET", "/nodes/node-6/x", "node-6"))
    assert down[0] == 502
    assert b"failed" in down[1]
    monkeypatch.setattr(node_module, "UPSTREAM_TIMEOUT", 0.5)
    started = time.monotonic()
    assert call(node, "GET", "/nodes/node-5/stall", assertion("GET", "/nodes/node-5/stall", "node-5"))[0] == 504
    assert time.monotonic() - started < 2.5


def test_routes_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "routes.json"
    good.write_text(json.dumps({"node-1": "http://10.40.0.25:9000", "node-2": "http://127.0.0.1:9001/api"}))
    assert load_routes(str(good)) == {"node-1": "http://10.40.0.25:9000", "node-2": "http://127.0.0.1:9001/api"}
    for bad in (
        {"node 1": "http://x:1"},
        {"node-1": "ftp://x"},
        {"node-1": "http://"},
        ["node-1"],
        {"node-1": "http://x:99999"},
        {"node-1": "http://user:pw@x:1"},
        {"node-1": "http://x:1/?q=1"},
        {"node-1": 9000},
    ):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=r"bad\.json"):
            load_routes(str(tmp_path / "bad.json"))


@settings(max_examples=200, deadline=None)
@given(content=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode), st.just(b'{"node-1": ')))
def test_any_routes_file_is_routes_or_one_value_error_naming_it(content: bytes) -> None:
    """Issue 18 item 4: what is in the routes file never ends the node backend in a traceback."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(content)
        file.flush()
        try:
            outcome: object = load_routes(file.name)
        except ValueError as exc:
            outcome = str(exc)
        assert isinstance(outcome, dict) or (outcome.startswith(f"{file.name}: ") and "\n" not in outcome)


def test_a_bad_routes_file_stops_the_node_backend_with_one_line(tmp_path: Path) -> None:
    """Issue 18 item 4: the node backend on EC2 checks its routes at start: one line on stderr, exit 2."""
    import subprocess
    import sys

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    encoding, spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    (tmp_path / "key.pem").write_bytes(key.public_bytes(encoding, spki))
    (tmp_path / "routes.json").write_text('{"node-1": "http://10.40.0.25:9000",}')
    (tmp_path / "deep.json").write_text("[" * 100_000)  # rev-F F7: a RecursionError traceback before json_text
    for routes, expected in (
        ("routes.json", "not valid JSON"),
        ("missing.json", "cannot read"),
        ("deep.json", "not valid JSON (arrays or objects nested more than 64 deep)"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "nodegate_node", "--port", "0", "--assertion-key", "key.pem", "--routes", routes],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert done.stderr.startswith(f"nodegate node backend: error: {routes}: {expected}"), done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_identity_headers_alone_are_refused(node: NodeServer) -> None:
    """Another REST API on the account's VPC link can send any identity headers: without an assertion, 401."""
    for path in ("/nodes/node-3/whoami", "/nodes/node-3/status", "/nodes/node-3/api"):
        status, data = call(node, "GET", path, IDENTITY)
        assert status == 401, path
        assert b"no valid authorizer assertion" in data


def test_forged_expired_replayed_and_misdirected_assertions_are_refused(node: NodeServer) -> None:
    path = "/nodes/node-3/status"
    forger = AssertionSigner("forged", local_certifier(ec.generate_private_key(ec.SECP256R1())))
    good = assertion("GET", path)
    token = good["X-Nodegate-Assertion"]
    cert, kms_sig, _, sig = token.split(".")
    other_body = assertion("GET", path, user="mallory")["X-Nodegate-Assertion"].split(".")[2]
    refused = {
        "forged key certificate": assertion("GET", path, signer=forger),
        "claims swapped under their signature": good | {"X-Nodegate-Assertion": f"{cert}.{kms_sig}.{other_body}.{sig}"},
        "expired": assertion("GET", path, at=time.time() - ASSERTION_SECONDS - 10),
        "issued in the future": assertion("GET", path, at=time.time() + 120),
        "other node": assertion("GET", path, "node-5"),
        "other path": assertion("GET", "/nodes/node-3/echo"),
        "other method": assertion("POST", path),
        "two assertions": good | {"X-Nodegate-Assertion": f"{token}, {token}"},
        "garbage": good | {"X-Nodegate-Assertion": "a.b.c.d"},
    }
    for case, headers in refused.items():
        assert call(node, "GET", path, headers)[0] == 401, case
    assert call(node, "GET", path, good)[0] == 200
    assert call(node, "GET", path, good)[0] == 401  # the same request id again: a replay


def test_a_request_id_is_refused_while_its_assertion_lives() -> None:
    """Replays are refused for as long as the assertion could be accepted; the memory is then released."""
    now = [time.time()]  # near the key certificate's own time: it may not outlive the key lifetime
    verifier = AssertionVerifier(KMS_KEY.public_key(), clock=lambda: now[0])
    token = assertion("GET", "/nodes/node-3/x", at=now[0], request_id="r-1")["X-Nodegate-Assertion"]
    assert verifier.verify([token], "GET", "/nodes/node-3/x")["userId"] == "carol"
    for delta in (1.0, ASSERTION_SECONDS - 1.0):
        now[0] += delta
        with pytest.raises(Refused, match="replay"):
            verifier.verify([token], "GET", "/nodes/node-3/x")
    now[0] += 60
    fresh = assertion("GET", "/nodes/node-3/x", at=now[0], request_id="r-2")["X-Nodegate-Assertion"]
    verifier.verify([fresh], "GET", "/nodes/node-3/x")
    assert len(verifier._seen) == 1  # r-1 expired and was forgotten


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_changed_character_of_an_assertion_is_refused(position: int, replacement: str) -> None:
    """The class of forgeries: no change to one character of a valid assertion yields an accepted one."""
    verifier = AssertionVerifier(KMS_KEY.public_key())
    token = assertion("GET", "/nodes/node-3/x", request_id="fixed")["X-Nodegate-Assertion"]
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed == token or base64_same(token, changed):
        return
    with pytest.raises(Refused):
        verifier.verify([changed], "GET", "/nodes/node-3/x")


def base64_same(token: str, changed: str) -> bool:
    """True when both decode to the same bytes (the unused low bits of a base64 group's last character)."""

    def decode(text: str) -> list[bytes] | None:
        try:
            return [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in text.split(".")]
        except ValueError:
            return None

    return decode(token) == decode(changed)


def test_public_key_loads_as_kms_gives_it(tmp_path: Path) -> None:
    der = KMS_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_public_key(base64.b64encode(der)).public_numbers() == KMS_KEY.public_key().public_numbers()
    rsa_like = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = rsa_like.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="P256"):
        load_public_key(pem)


def _raw(node: NodeServer, request: bytes) -> bytes:
    """Send raw bytes on one connection and read until the node closes it or goes quiet."""
    import socket

    with socket.create_connection(("127.0.0.1", node.server_address[1]), timeout=2) as connection:
        connection.sendall(request)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


@pytest.mark.parametrize("authorized", [False, True])
def test_an_unread_body_is_never_read_as_the_next_request(node: NodeServer, authorized: bool) -> None:
    """Review finding (desync): a 401, whoami or status answer left the body on a kept-alive connection and the
    node answered it as a second request (RFC 9112 6.3). Now the answer closes the connection."""
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    headers = b"".join(
        f"{name}: {value}\r\n".encode() for name, value in (assertion("POST", "/nodes/node-3/status").items())
    )
    request = (
        b"POST /nodes/node-3/status HTTP/1.1\r\nHost: x\r\n"
        + (headers if authorized else b"")
        + b"Content-Length: %d\r\n\r\n" % len(smuggled)
        + smuggled
    )
    answers = _raw(node, request).count(b"HTTP/1.1 ")
    assert answers == 1


def test_a_key_certificate_may_not_outlive_the_authorizers_key_lifetime() -> None:
    """Review finding: a KMS-signed key certificate valid for 50 years was accepted, so one stray kms:Sign made a
    lasting forging key. The node refuses key certificates that expire more than 6 h ahead."""
    lasting = AssertionSigner("local", local_certifier(KMS_KEY), key_seconds=50 * 365 * 86400)
    verifier = AssertionVerifier(KMS_KEY.public_key())
    claims = Claims(str(uuid.uuid4()), "GET", "/nodes/node-3/status", "node-3", "carol", SUBJECT)
    with pytest.raises(Refused, match="lives longer"):
        verifier.verify([lasting.sign(claims, time.time())], "GET", "/nodes/node-3/status")
    verifier.verify([SIGNER.sign(claims, time.time())], "GET", "/nodes/node-3/status")


def test_a_path_that_is_not_ascii_is_refused(node: NodeServer) -> None:
    """Review finding: a raw byte >= 0x80 in the path raised UnicodeEncodeError while proxying (no answer, no
    log line); RFC 3986 3.3 paths are ASCII (other octets are percent-encoded)."""
    assert b"HTTP/1.1 400" in _raw(
        node, b"GET /nodes/node-3/caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("framing", "status"),
    [
        (b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", 400),
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 0\r\nContent-Length: 60\r\n", 400),
        (b"Content-Length: 1_0\r\n", 400),
        (b"Content-Length: +10\r\n", 400),
        (b"Content-Length: abc\r\n", 400),
        (b"Content-Length: -1\r\n", 400),
    ],
    ids=["te-and-cl", "chunked", "two-lengths", "underscore", "plus", "letters", "negative"],
)
def test_request_framing_is_checked_at_the_node_as_at_the_edge(node: NodeServer, framing: bytes, status: int) -> None:
    """Review finding: the node read Content-Length loosely and chunked bodies not at all, so one request could
    be answered as two (RFC 9112 6.1-6.3). Both hops now use one body_length; the answer closes the connection."""
    headers = b"".join(f"{k}: {v}\r\n".encode() for k, v in assertion("POST", "/nodes/node-3/echo").items())
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /nodes/node-3/echo HTTP/1.1\r\nHost: x\r\n" + headers + framing + b"\r\n" + b"4\r\nabcd\r\n0\r\n\r\n"
    )
    received = _raw(node, request + smuggled)
    assert received.startswith(b"HTTP/1.1 %d" % status), received[:80]
    assert received.count(b"HTTP/1.1 ") == 1


def test_an_svid_identity_with_an_empty_subject_and_its_rule_reach_the_upstream() -> None:
    """An X.509-SVID often has an empty subject: "sub" may be empty, the other claims may not; the rule name the
    authorizer matched goes on as X-Identity-Rule (an assertion without one, from an older authorizer: default)."""
    verifier = AssertionVerifier(KMS_KEY.public_key())
    path = "/nodes/node-3/x"
    token = SIGNER.sign(Claims("svid-1", "GET", path, "node-3", "alice", "", rule="spire"), time.time())
    identity = verifier.verify([token], "GET", path)
    assert identity == {"subject": "", "userId": "alice", "nodeId": "node-3", "identityRule": "spire"}
    assert identity_headers(identity)["X-Identity-Rule"] == "spire"
    for claims in (
        Claims("svid-2", "GET", path, "node-3", "", "CN=x"),
        Claims("svid-3", "GET", path, "node-3", "a", "", ""),
    ):
        with pytest.raises(Refused, match="lacks a claim"):
            verifier.verify([SIGNER.sign(claims, time.time())], "GET", path)
