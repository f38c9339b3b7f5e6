"""The node backend over real sockets: identity headers required, built-in routes, and reverse proxying of a
routed node to its upstream (method, path, query, body, headers, streaming, 502/504)."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodegate.pki_server import POLL_SECONDS
from nodegate.stack import free_port
from nodegate.upstream import UpstreamServer
from nodegate_node import server as node_module
from nodegate_node.server import NodeServer, load_routes

IDENTITY = {
    "X-Client-Cert-Sub": base64.b64encode(b"CN=node-3,UID=carol").decode(),
    "X-User-Id": "carol",
    "X-Node-Id": "node-3",
}


class Streaming(http.server.BaseHTTPRequestHandler):
    """An upstream that streams 4 MiB in chunks, or stalls (``/stall``)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/stall"):
            time.sleep(3)
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
    server = NodeServer("127.0.0.1", 0, upstreams)
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
    headers = IDENTITY | {"Connection": "keep-alive, Te", "Te": "trailers", "X-Custom": "kept"}
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
    status, data = call(node, "GET", "/nodes/node-3/whoami", IDENTITY)
    assert json.loads(data)["userId"] == "carol"  # whoami stays local
    assert call(node, "GET", "/healthz", {})[0] == 200


def test_proxy_refuses_without_identity_and_for_other_nodes(node: NodeServer) -> None:
    assert call(node, "GET", "/nodes/node-3/api", {})[0] == 401
    assert call(node, "GET", "/nodes/node-5/api", IDENTITY)[0] == 403  # X-Node-Id says node-3


def test_proxy_streams_large_answers(node: NodeServer) -> None:
    identity = IDENTITY | {"X-Node-Id": "node-5"}
    status, data = call(node, "GET", "/nodes/node-5/big", identity)
    assert (status, len(data)) == (200, 64 * 65536)


def test_upstream_failures_are_502_and_504(node: NodeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    down = call(node, "GET", "/nodes/node-6/x", IDENTITY | {"X-Node-Id": "node-6"})
    assert down[0] == 502
    assert b"failed" in down[1]
    monkeypatch.setattr(node_module, "UPSTREAM_TIMEOUT", 0.5)
    started = time.monotonic()
    assert call(node, "GET", "/nodes/node-5/stall", IDENTITY | {"X-Node-Id": "node-5"})[0] == 504
    assert time.monotonic() - started < 2.5


def test_routes_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "routes.json"
    good.write_text(json.dumps({"node-1": "http://10.0.1.5:9000"}))
    assert load_routes(str(good)) == {"node-1": "http://10.0.1.5:9000"}
    for bad in ({"node 1": "http://x:1"}, {"node-1": "ftp://x"}, {"node-1": "http://"}, ["node-1"]):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=r"bad\.json"):
            load_routes(str(tmp_path / "bad.json"))
