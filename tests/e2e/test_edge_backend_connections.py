"""The edge keeps one backend connection per client connection, as a VPC link keeps its connections: reused while
the client keeps its own, replaced once when the backend closed it while idle (only for a method that may be sent
again, RFC 9110 9.2.2), and closed when the backend asks or the client goes. Real TLS and real sockets."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from nodegate.local.edge import EdgeServer
from nodegate.local.stack import free_port
from nodegate.pki.directory import DevPki, init_pki
from nodegate.pki.server import POLL_SECONDS, RevocationServer


class Backend(http.server.ThreadingHTTPServer):
    """Counts the connections it accepts, records what it was sent, and can drop its idle connections."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), BackendHandler)
        self.accepted = 0
        self.open: list[socket.socket] = []
        self.seen: list[tuple[str, str, str]] = []

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        self.accepted += 1
        self.open.append(sock)
        return sock, address

    def handle_error(self, request: object, client_address: object) -> None:
        """Connections this backend drops on purpose end its handlers with a reset: not an error here."""

    def drop_idle(self) -> None:
        """Close every connection, as a backend does with the ones idle past its keep-alive timeout."""
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.open.clear()


class BackendHandler(http.server.BaseHTTPRequestHandler):
    server: Backend
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, self.headers.get("X-User-Id", "")))
        payload = json.dumps({"path": self.path, "body": body.decode()}).encode()
        self.send_response(200)
        if self.path.endswith("/close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevPki, EdgeServer, Backend]]:
    root = tmp_path_factory.mktemp("conns") / "pki"
    pki = init_pki(root, f"http://127.0.0.1:{free_port()}")
    pki.issue("alice", "node-1")
    pki.issue("bob", "node-1")
    revocation = RevocationServer(pki, pki.port).start()
    backend = Backend()
    threading.Thread(target=backend.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
    env = {
        "TRUSTSTORE_URI": f"file://{root}/truststore.pem",
        "CRL_STORE_URI": f"file://{root}/crl/",
        "REVOCATION_MODE": "hard-fail",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    edge = EdgeServer(
        0,
        f"http://127.0.0.1:{backend.server_address[1]}",
        str(root / "server.pem"),
        str(root / "server.key"),
        env=env,
        access_log=lambda entry: None,
        assertion_key=ec.generate_private_key(ec.SECP256R1()),
    ).start()
    yield pki, edge, backend
    for server in (edge, backend, revocation):
        server.shutdown()
        server.server_close()


def client(pki: DevPki, edge: EdgeServer, who: str = "alice") -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(Path(pki.root) / "root-ca.pem"))
    stem = Path(pki.root) / "clients" / f"{who}-node-1"
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    return http.client.HTTPSConnection("127.0.0.1", edge.server_address[1], context=context, timeout=15)


def send(connection: http.client.HTTPSConnection, path: str, method: str = "GET", body: bytes | None = None) -> int:
    connection.request(method, path, body=body)
    response = connection.getresponse()
    response.read()
    return response.status


def test_a_kept_alive_client_reuses_one_backend_connection(world: tuple[DevPki, EdgeServer, Backend]) -> None:
    pki, edge, backend = world
    before = backend.accepted
    connection = client(pki, edge)
    try:
        assert [send(connection, f"/nodes/node-1/n{i}") for i in range(5)] == [200] * 5
    finally:
        connection.close()
    assert backend.accepted - before == 1


def test_two_clients_never_share_a_backend_connection(world: tuple[DevPki, EdgeServer, Backend]) -> None:
    """Each request reaches the backend with the identity of the client connection it came on."""
    pki, edge, backend = world
    alice, bob = client(pki, edge, "alice"), client(pki, edge, "bob")
    before = (backend.accepted, len(backend.seen))
    try:
        for _ in range(3):
            assert send(alice, "/nodes/node-1/a") == 200
            assert send(bob, "/nodes/node-1/b") == 200
    finally:
        alice.close()
        bob.close()
    assert backend.accepted - before[0] == 2
    users = {(path, user) for _, path, user in backend.seen[before[1] :]}
    assert users == {("/nodes/node-1/a", "alice"), ("/nodes/node-1/b", "bob")}


def test_a_connection_the_backend_closed_while_idle_is_replaced_for_a_get(
    world: tuple[DevPki, EdgeServer, Backend],
) -> None:
    pki, edge, backend = world
    connection = client(pki, edge)
    try:
        assert send(connection, "/nodes/node-1/first") == 200
        before = backend.accepted
        backend.drop_idle()
        assert send(connection, "/nodes/node-1/second") == 200
        assert backend.accepted - before == 1
    finally:
        connection.close()


def test_a_post_is_never_sent_twice(world: tuple[DevPki, EdgeServer, Backend]) -> None:
    """POST is not idempotent: on a backend connection found closed the edge answers 502, and sends nothing again."""
    pki, edge, backend = world
    connection = client(pki, edge)
    try:
        assert send(connection, "/nodes/node-1/first") == 200
        backend.drop_idle()
        posts = sum(1 for method, _, _ in backend.seen if method == "POST")
        assert send(connection, "/nodes/node-1/order", "POST", b"once") == 502
        assert sum(1 for method, _, _ in backend.seen if method == "POST") == posts
        assert send(connection, "/nodes/node-1/order", "POST", b"again") == 200  # a fresh connection next time
    finally:
        connection.close()


def test_a_backend_that_asks_to_close_gets_a_new_connection(world: tuple[DevPki, EdgeServer, Backend]) -> None:
    pki, edge, backend = world
    connection = client(pki, edge)
    before = backend.accepted
    try:
        assert send(connection, "/nodes/node-1/close") == 200
        assert send(connection, "/nodes/node-1/after") == 200
    finally:
        connection.close()
    assert backend.accepted - before == 2
