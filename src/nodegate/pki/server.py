"""HTTP server for CRLs (``GET /crl/<ca>.crl``) and OCSP (``POST /ocsp/<ca>``), on 127.0.0.1."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from nodegate_node.http_rules import Framing, body_length

POLL_SECONDS = 0.05
"""How often a serving thread looks for shutdown (socketserver polls every 0.5 s by default)."""

MAX_OCSP_REQUEST = 16 * 1024


class Responder(Protocol):
    """Where the server's answers come from."""

    def crl(self, ca: str) -> bytes | None:
        """DER CRL of ``ca``, or None when unknown."""

    def ocsp(self, ca: str, request: bytes) -> bytes | None:
        """DER OCSP response for a DER request to ``ca``'s responder, or None when unknown."""


class RevocationHandler(BaseHTTPRequestHandler):
    """Routes CRL and OCSP requests to the server's responder."""

    server: RevocationServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms Nagle/delayed-ACK stall

    def do_GET(self) -> None:
        """Serve ``/crl/<ca>.crl``."""
        ca = self.path.removeprefix("/crl/").removesuffix(".crl")
        body = self.server.responder.crl(ca) if self.path.startswith("/crl/") else None
        self._send(body, "application/pkix-crl")

    def do_POST(self) -> None:
        """Answer ``/ocsp/<ca>``."""
        try:  # RFC 9112 6: one valid Content-Length (the edge's and the node's rule); anything else is no request
            length = body_length(self.headers, MAX_OCSP_REQUEST)
        except Framing:
            length = None
        if not self.path.startswith("/ocsp/") or not length:
            self.close_connection = True  # the body, if any, is not read: it must not be taken for a request
            self._send(None, "")
            return
        body = self.server.responder.ocsp(self.path.removeprefix("/ocsp/"), self.rfile.read(length))
        self._send(body, "application/ocsp-response")

    def _send(self, body: bytes | None, content_type: str) -> None:
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", content_type if body is not None else "text/plain")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet by default; the stack's access log is the edge's."""


class QuietServer(ThreadingHTTPServer):
    """A threaded HTTP server for which a client that hung up before its answer was written (a fetcher past its
    timeout) is no error: no traceback on stderr; anything else is reported as socketserver does."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet about ``ConnectionError`` (broken pipe, reset)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class RevocationServer(QuietServer):
    """A threaded HTTP server bound to a responder."""

    def __init__(
        self, responder: Responder, port: int = 0, handler: type[RevocationHandler] = RevocationHandler
    ) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.responder = responder

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8480``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> RevocationServer:
        """Serve in a daemon thread and return self."""
        threading.Thread(target=self.serve_forever, args=(POLL_SECONDS,), name="revocation-server", daemon=True).start()
        return self
