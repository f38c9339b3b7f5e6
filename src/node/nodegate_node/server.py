"""The node backend. It sits behind API Gateway (or the local edge) and trusts only three headers:
``X-Client-Cert-Sub`` (base64 RFC 4514 subject), ``X-User-Id`` and ``X-Node-Id``. Stdlib only, so the same
file runs on the EC2 node and locally."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
IDENTITY_HEADERS = ("X-Client-Cert-Sub", "X-User-Id", "X-Node-Id")
MAX_BODY = 1024 * 1024


def read_identity(headers: Any) -> dict[str, str] | None:
    """The identity from the headers, or None when any header is missing, repeated or malformed."""
    values = {}
    for header in IDENTITY_HEADERS:
        found = headers.get_all(header) or []
        if len(found) != 1:
            return None
        values[header] = found[0]
    try:
        subject = base64.b64decode(values["X-Client-Cert-Sub"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not ID.fullmatch(values["X-User-Id"]) or not ID.fullmatch(values["X-Node-Id"]):
        return None
    return {"subject": subject, "userId": values["X-User-Id"], "nodeId": values["X-Node-Id"]}


class NodeHandler(BaseHTTPRequestHandler):
    """``/healthz`` (no identity), and under ``/nodes/<id>/``: ``whoami``, ``status``, ``echo``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms Nagle/delayed-ACK stall
    server_version = "nodegate-node/1"
    started = time.time()

    def do_GET(self) -> None:
        """Read-only routes."""
        self._route()

    def do_POST(self) -> None:
        """``echo`` takes a body."""
        self._route()

    do_PUT = do_PATCH = do_DELETE = do_POST

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(200, {"ok": True})
            return
        identity = read_identity(self.headers)
        if identity is None:
            self._json(401, {"error": "missing or malformed identity headers"})
            return
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "nodes" or parts[1] != identity["nodeId"]:
            self._json(403, {"error": "request is not for the node named in X-Node-Id"})
            return
        action = "/".join(parts[2:]) or "whoami"
        if action == "whoami":
            self._json(200, identity)
        elif action == "status":
            self._json(200, {"node": identity["nodeId"], "uptimeSeconds": round(time.time() - self.started, 1)})
        elif action == "echo":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, MAX_BODY)).decode("utf-8", errors="replace")
            self._json(200, {"method": self.command, "body": body, "caller": identity["userId"]})
        else:
            self._json(404, {"error": f"no route {action!r}"})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the edge (or API Gateway) keeps the access log."""


class NodeServer(ThreadingHTTPServer):
    """The threaded backend server."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 8080) -> None:
        super().__init__((host, port), NodeHandler)


def main(argv: list[str] | None = None) -> None:
    """``python -m nodegate_node --host H --port P``."""
    parser = argparse.ArgumentParser(description="nodegate node backend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    server = NodeServer(args.host, args.port)
    print(f"node backend on http://{args.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()
