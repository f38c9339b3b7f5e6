"""A stand-in for real node software behind the node backend: an HTTP service on 127.0.0.1 that answers
with what it was sent (method, path, query, body, the identity headers), as the local stack's proxied node."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nodegate.pki.server import POLL_SECONDS


class UpstreamHandler(BaseHTTPRequestHandler):
    """Every method: a JSON description of the request it received."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Describe the request."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        path, _, query = self.path.partition("?")
        payload = json.dumps(
            {
                "upstream": "example node software",
                "method": self.command,
                "path": path,
                "query": query,
                "body": body,
                "caller": self.headers.get("X-User-Id"),
                "node": self.headers.get("X-Node-Id"),
                "hopByHop": sorted(h for h in ("Connection", "Keep-Alive", "Te") if h in self.headers),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class UpstreamServer(ThreadingHTTPServer):
    """The example node software, serving in a daemon thread."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), UpstreamHandler)

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> UpstreamServer:
        """Serve in a daemon thread and return self."""
        threading.Thread(target=self.serve_forever, args=(POLL_SECONDS,), name="upstream", daemon=True).start()
        return self
