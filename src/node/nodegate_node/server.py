"""The node backend. It sits behind API Gateway (or the local edge) and believes only the authorizer's signed
assertion (``X-Nodegate-Assertion``, see ``assertion.py``): a request without one valid for its method, path and
node is refused with 401, whatever identity headers it carries. The identity headers ``X-Client-Cert-Sub``
(base64 RFC 4514 subject), ``X-User-Id`` and ``X-Node-Id`` are rewritten from the assertion before a request
is proxied. Stdlib and the distribution's ``cryptography``, so the same file runs on the EC2 node and locally.

A node listed in the routes file (``{"node-1": "http://127.0.0.1:9001"}``) is reverse-proxied to its
upstream: method, path below ``/nodes/{id}/``, query, body and headers (without hop-by-hop ones, with the
identity headers) go to it and its response is streamed back; ``whoami`` and ``/healthz`` stay local.
Other nodes get the built-in ``whoami``, ``status`` and ``echo``."""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import re
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm

from nodegate_node.assertion import HEADER, AssertionVerifier, Refused, load_public_key
from nodegate_node.http_rules import (
    Framing,
    WholeSectionHandler,
    body_length,
    clean_target,
    final_status,
    inside,
    without,
)
from nodegate_node.json_text import parse_json
from nodegate_node.upstream import RecordingConnection, answer_problem

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
IDENTITY_HEADERS = ("X-Client-Cert-Sub", "X-User-Id", "X-Node-Id", "X-Identity-Rule")
MAX_BODY = 1024 * 1024
MAX_PROXY_BODY = 10 * 1024 * 1024
UPSTREAM_TIMEOUT = 25.0
"""Seconds an upstream may take to connect or between reads (API Gateway's integration timeout is 29 s)."""
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def load_routes(path: str | None) -> dict[str, str]:
    """Node id -> upstream base URL (``http://host[:port][/path]``) from a JSON file; any problem (unreadable,
    not UTF-8 JSON, not an object, a bad id or URL) is a ValueError naming the file and the entry."""
    if not path:
        return {}
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the routes file: {exc.strerror}") from None
    routes = parse_json(data, path)
    if not isinstance(routes, dict):
        raise ValueError(f"{path}: routes must be a JSON object of node id -> http://host:port")
    for node, url in routes.items():
        if not ID.fullmatch(node) or not _upstream_url(url):
            raise ValueError(f"{path}: route {node!r} -> {url!r} is not a node id -> http://host:port")
    return dict(routes)


def _upstream_url(url: object) -> bool:
    """Whether ``url`` is ``http://host[:port][/path]``: no credentials, query or fragment, a port in range."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)  # raises ValueError on a malformed IPv6 literal
        parts.port  # noqa: B018 - raises ValueError outside 0-65535
    except ValueError:
        return False
    plain = not (parts.username or parts.password or parts.query or parts.fragment)
    return parts.scheme == "http" and bool(parts.hostname) and plain


def identity_headers(identity: dict[str, str]) -> dict[str, str]:
    """The identity headers for an upstream, from the verified identity."""
    return {
        "X-Client-Cert-Sub": base64.b64encode(identity["subject"].encode()).decode(),
        "X-User-Id": identity["userId"],
        "X-Node-Id": identity["nodeId"],
        "X-Identity-Rule": identity["identityRule"],
    }


def forwarded_headers(received: Any) -> dict[str, str]:
    """The headers an upstream gets: none that reads, once case and ``_``/``-`` are folded, as a hop-by-hop, an
    identity or the assertion header (the verified identity is added back as headers)."""
    return without(received, [*HOP_BY_HOP, *IDENTITY_HEADERS, HEADER])


class NodeHandler(WholeSectionHandler):
    """``/healthz`` (no identity), and under ``/nodes/<id>/``: ``whoami``, ``status``, ``echo``, or the
    node's upstream when the routes file names one."""

    server: NodeServer

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a streamed answer goes in several writes: no 40 ms Nagle/delayed-ACK stall
    wbufsize = 1 << 16
    """A local answer's status line, headers and body leave in one write when the handler returns; a proxied
    answer is flushed head first, then chunk by chunk, so it still streams."""
    server_version = "nodegate-node/1"
    started = time.time()

    def do_GET(self) -> None:
        """Read-only routes."""
        self._route()

    def do_POST(self) -> None:
        """``echo`` takes a body."""
        self._route()

    do_PUT = do_PATCH = do_DELETE = do_POST
    do_HEAD = do_OPTIONS = do_GET  # the access policy may grant them; a HEAD answer carries no content

    unread_body = False
    """True while the request has a body this handler has not read: the answer then closes the connection, so
    the body is never taken for the next request on it (RFC 9112 6.3, 9.6)."""
    body_size = 0
    """The request's Content-Length, once ``body_length`` (RFC 9112 6) has accepted the framing."""

    def handle_expect_100(self) -> bool:
        """``100 Continue`` leaves at once (RFC 9110 10.1.1), not with the buffered final answer."""
        answer = super().handle_expect_100()
        self.wfile.flush()
        return answer

    def _route(self) -> None:
        path = self._checked_path()
        if path is None:
            return
        self.unread_body = True  # until the framing is known and the body read
        try:
            length = body_length(self.headers, MAX_PROXY_BODY)
        except Framing as exc:
            self._json(exc.status, {"error": str(exc)})
            return
        if length is None:
            self._json(411, {"error": "a chunked body is not accepted here: send Content-Length"})
            return
        self.body_size = length
        self.unread_body = length > 0
        if path == "/healthz":
            self._json(200, {"ok": True})
            return
        try:
            identity = self.server.verifier.verify(self.headers.get_all(HEADER) or [], self.command, path)
        except Refused as refused:
            self._json(401, {"error": f"no valid authorizer assertion: {refused}"})
            return
        parts = path.strip("/").split("/")
        action = "/".join(parts[2:]) or "whoami"
        upstream = self.server.routes.get(identity["nodeId"])
        if upstream is not None and action != "whoami":
            self._proxy(upstream, "/".join(parts[2:]), identity)
            return
        if action == "whoami":
            self._json(200, identity)
        elif action == "status":
            self._json(200, {"node": identity["nodeId"], "uptimeSeconds": round(time.time() - self.started, 1)})
        elif action == "echo":
            body = self.rfile.read(min(self.body_size, MAX_BODY)).decode("utf-8", errors="replace")
            self.unread_body = self.body_size > MAX_BODY
            self._json(200, {"method": self.command, "body": body, "caller": identity["userId"]})
        else:
            self._json(404, {"error": f"no route {action!r}"})

    def _checked_path(self) -> str | None:
        """The request's path with dot segments resolved, or None after a 400 for broken framing or a path
        that must be refused (``nodegate_node.http_rules``), whatever the edge in front did."""
        target = clean_target(self.path)
        path = target[0] if target is not None else None
        refused = None if path is not None else "path or query refused (RFC 3986 3.4, 5.2.4)"
        problem = self.request_problem() or refused
        if problem is not None:
            self.close_connection = True
            self._json(400, {"error": problem})
            return None
        return path

    def _proxy(self, upstream: str, below: str, identity: dict[str, str]) -> None:
        """Forward this request to the node's upstream and stream its answer back; 502/504 when it fails."""
        base = urlsplit(upstream)
        query = self.path.partition("?")[2]
        path = inside(base.path, below)
        if path is None:
            self._json(400, {"error": "path leaves the node's upstream base"})
            return
        target = path + (f"?{query}" if query else "")
        body = self.rfile.read(self.body_size) if self.body_size else None
        self.unread_body = False
        headers = forwarded_headers(self.headers.items()) | identity_headers(identity)
        connection = RecordingConnection(base.hostname or "", base.port or 80, timeout=UPSTREAM_TIMEOUT)
        try:
            connection.request(self.command, target, body=body, headers=headers)
            response = connection.getresponse()
        except TimeoutError:
            self._json(504, {"error": f"upstream of {identity['nodeId']} timed out"})
            connection.close()
            return
        except (OSError, http.client.HTTPException) as exc:
            self._json(502, {"error": f"upstream of {identity['nodeId']} failed: {exc.__class__.__name__}"})
            connection.close()
            return
        problem = answer_problem(response)
        if not final_status(response.status):
            problem = f"answered {response.status}, not a final response"
        if problem is not None:
            self._json(502, {"error": f"upstream of {identity['nodeId']} {problem}"})
            connection.close()
            return
        bodiless = self.command == "HEAD" or response.status in (204, 304)  # RFC 9112 6.3: no content, no framing
        try:
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP | {"server", "date"} or (
                    bodiless and name.lower() == "content-length"
                ):
                    self.send_header(name, value)
            if not bodiless:
                self.send_header("Transfer-Encoding", "chunked")
            if self.close_connection:  # the client asked to close (RFC 9112 9.6)
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()  # the head leaves as soon as the upstream's did, before its first byte of content
            while not bodiless and (chunk := response.read1(65536)):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            if not bodiless and response.length:  # closed before its Content-Length: incomplete (RFC 9112 8)
                raise http.client.IncompleteRead(b"", response.length)
            if not bodiless:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # cut mid-stream: no last chunk, so the client sees a truncated body
        finally:
            connection.close()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        if self.unread_body or self.close_connection:  # BaseHTTPRequestHandler then closes after this answer
            self.send_header("Connection", "close")  # (RFC 9112 9.6: a closing server says so)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the edge (or API Gateway) keeps the access log."""


class NodeServer(ThreadingHTTPServer):
    """The threaded backend server."""

    daemon_threads = True

    def __init__(
        self,
        verifier: AssertionVerifier,
        host: str = "127.0.0.1",
        port: int = 8080,
        routes: dict[str, str] | None = None,
    ) -> None:
        super().__init__((host, port), NodeHandler)
        self.verifier = verifier
        self.routes = dict(routes or {})

    def finish_request(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer was written ends its connection quietly: the buffered answer
        is not news for stderr (a traceback per dropped connection would be)."""
        with contextlib.suppress(ConnectionError):
            super().finish_request(request, client_address)


def main(argv: list[str] | None = None) -> None:
    """``python -m nodegate_node --assertion-key FILE --host H --port P``."""
    parser = argparse.ArgumentParser(description="nodegate node backend")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--routes", help='JSON file: {"node-id": "http://host:port", ...} to reverse-proxy')
    parser.add_argument(
        "--assertion-key", required=True, help="the KMS key's public key (PEM, or base64 DER as KMS GetPublicKey gives)"
    )
    args = parser.parse_args(argv)
    try:
        verifier = AssertionVerifier(load_public_key(Path(args.assertion_key).read_bytes()))
        routes = load_routes(args.routes)
        server = NodeServer(verifier, args.host, args.port, routes)
    except (OSError, ValueError, UnsupportedAlgorithm) as exc:
        parser.exit(2, f"nodegate node backend: error: {exc}\n")
    print(f"node backend on http://{args.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()
