"""The local mTLS edge: what API Gateway does in front of nodegate, on one machine.

It terminates TLS 1.2+ and requires a client certificate that chains to the truststore named by
``TRUSTSTORE_URI``; builds the REST REQUEST authorizer event as API Gateway does; calls the same handler
in-process (``make_handler`` on a runtime built from the same settings); enforces the returned IAM policy
against the method ARN; overwrites the identity headers and the node's signed assertion from the authorizer
context as the template's mappings do; and proxies to the backend. The assertion is certified by the KMS key
named by ``ASSERTION_KEY_ID`` (moto locally) or, given ``assertion_key``, by a local key with KMS Sign's interface.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from nodegate.pki.server import POLL_SECONDS
from nodegate_authorizer.assertion import AssertionSigner, Certifier
from nodegate_authorizer.certificates import PARSE_ERRORS
from nodegate_authorizer.handler import make_handler
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import load_settings
from nodegate_authorizer.sources.refresh import Refreshing, blob_loader
from nodegate_node.http_rules import (
    Framing,
    WholeSectionHandler,
    body_length,
    clean_target,
    final_status,
    without,
)
from nodegate_node.upstream import FinalConnection

ROUTE = re.compile(r"^/nodes/(?P<node>[^/?#]+)(?P<tail>/[^?#]*)?$")
IDENTITY_HEADERS = {
    "x-client-cert-sub": "clientCertSub",
    "x-user-id": "userId",
    "x-node-id": "nodeId",
    "x-identity-rule": "identityRule",
    "x-nodegate-assertion": "assertion",
}
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
"""Methods a proxy may send again when a kept-alive backend connection turns out closed (RFC 9110 9.2.2)."""
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"}
NOT_RETURNED = HOP_BY_HOP | {"content-length", "server", "date"}
"""A backend's response headers the edge does not pass on (it frames the body and names itself)."""
FORBIDDEN = {"message": "Forbidden"}
MISSING_TOKEN = {"message": "Missing Authentication Token"}
MAX_BODY = 10 * 1024 * 1024
MAX_HEADER_BYTES = 10 * 1024
"""API Gateway's limit on the total size of request headers (and the edge's)."""
HEADER_SECONDS = 10.0
BODY_SECONDS = 30.0
"""Deadlines for a request's headers (from the first byte of the request line) and for its body."""
DRAIN_SECONDS = 30.0
"""How long a stopping edge waits for requests in flight (API Gateway's integration timeout is 29 s)."""


Authorizer = Callable[[dict[str, Any], Any], dict[str, Any]]


def local_certifier(key: ec.EllipticCurvePrivateKey) -> Certifier:
    """A stand-in for KMS Sign (ECDSA_SHA_256, DER signature) with a key held in memory."""
    return lambda message: key.sign(message, ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True)
class ApiIdentity:
    """The names API Gateway would put into method ARNs and request contexts."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    api_id: str = "local0api1"
    stage: str = "prod"
    domain: str = "localhost"


def openssl_date(moment: datetime) -> str:
    """API Gateway's validity format, e.g. ``Aug  5 09:36:04 2021 GMT``."""
    return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S %Y} GMT"


def client_cert_context(der: bytes) -> dict[str, Any]:
    """``requestContext.identity.clientCert`` as API Gateway fills it. A certificate that the TLS layer accepted and
    ``cryptography`` cannot read (a DEFAULT version encoded, which DER forbids and OpenSSL lets through) is described
    by its PEM alone: the authorizer, which reads nothing else, decides on it (a Deny, not a traceback)."""
    described: dict[str, Any] = {"clientCertPem": ssl.DER_cert_to_PEM_cert(der)}
    try:
        cert = x509.load_der_x509_certificate(der)
        serial = format(cert.serial_number, "x")
        serial = ":".join(serial.rjust(len(serial) + len(serial) % 2, "0")[i : i + 2] for i in range(0, len(serial), 2))
        return described | {
            "subjectDN": cert.subject.rfc4514_string(),
            "issuerDN": cert.issuer.rfc4514_string(),
            "serialNumber": serial,
            "validity": {
                "notBefore": openssl_date(cert.not_valid_before_utc),
                "notAfter": openssl_date(cert.not_valid_after_utc),
            },
        }
    except PARSE_ERRORS:  # what cryptography raises on certificate bytes (InvalidVersion is no ValueError)
        return described


def build_event(
    api: ApiIdentity,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    source_ip: str,
    cert_der: bytes,
    *,
    client_cert: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The REST API REQUEST authorizer event for ``/nodes/{nodeId}[/{proxy+}]``, or None for other paths.
    ``client_cert`` is ``client_cert_context(cert_der)`` when the caller already has it (one per connection)."""
    match = ROUTE.match(raw_path)
    if match is None:
        return None
    tail = (match["tail"] or "").lstrip("/")
    params = {"nodeId": unquote(match["node"])} | ({"proxy": unquote(tail)} if tail else {})
    resource = "/nodes/{nodeId}/{proxy+}" if tail else "/nodes/{nodeId}"
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        multi_query.setdefault(key, []).append(value)
    request_id = str(uuid.uuid4())
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{api.region}:{api.account_id}:{api.api_id}/{api.stage}/{method}{raw_path}",
        "resource": resource,
        "path": raw_path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": raw_path,
            "accountId": api.account_id,
            "protocol": "HTTP/1.1",
            "stage": api.stage,
            "domainPrefix": api.domain.split(".")[0],
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent", ""),
                "clientCert": client_cert or client_cert_context(cert_der),
            },
            "domainName": api.domain,
            "apiId": api.api_id,
        },
    }


def _arn_matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: ``*`` spans any characters (``/`` included), ``?`` one character."""
    return fnmatch.fnmatchcase(arn, pattern.replace("[", "[[]"))


def policy_allows(response: Any, method_arn: str) -> bool | None:
    """Evaluate the authorizer's policy like API Gateway: explicit Deny wins, then Allow, else deny.
    Return None when the response is malformed (API Gateway answers 500 then)."""
    try:
        statements = response["policyDocument"]["Statement"]
        if not isinstance(response["principalId"], str) or not isinstance(statements, list):
            return None
        allowed = False
        for statement in statements:
            actions = statement["Action"]
            resources = statement["Resource"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = [resources] if isinstance(resources, str) else resources
            if not any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
                continue
            if any(_arn_matches(r, method_arn) for r in resources):
                if statement["Effect"] == "Deny":
                    return False
                allowed = allowed or statement["Effect"] == "Allow"
        return allowed
    except (KeyError, TypeError):
        return None


def forwarded_headers(received: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The client's headers the backend gets: none that reads, once case and ``_``/``-`` are folded, as a hop-by-hop
    header, as Content-Length (the edge re-frames the body) or as an identity header."""
    return without(received, [*HOP_BY_HOP, "content-length", *IDENTITY_HEADERS])


class EdgeHandler(WholeSectionHandler):
    """One client connection: authorize each request, then proxy it to the backend."""

    server: EdgeServer
    _backend: http.client.HTTPConnection | None = None
    _client_cert: tuple[bytes, dict[str, Any]] | None = None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a response larger than the buffer goes in several writes: no Nagle stall
    wbufsize = 1 << 16
    """Status line, headers and body leave in one write (one TLS record) when the handler returns, not in two."""
    server_version = "nodegate-edge"

    def do_GET(self) -> None:
        """Every method goes through the same path."""
        with self.server.in_flight():
            self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def handle_expect_100(self) -> bool:
        """``100 Continue`` leaves at once (RFC 9110 10.1.1), not with the buffered final answer."""
        answer = super().handle_expect_100()
        self.wfile.flush()
        return answer

    def handle_one_request(self) -> None:
        """One request, its headers under a deadline (a slow client is cut off, not waited for)."""
        self._deadline = self.server.watchdog.arm(self.connection, self.server.header_seconds)
        try:
            super().handle_one_request()
        finally:
            self.server.watchdog.disarm(self._deadline)

    def _handle(self) -> None:
        started = time.perf_counter()
        log: dict[str, Any] = {"ip": self.client_address[0], "method": self.command, "path": self.path}
        if not self.server.watchdog.disarm(self._deadline):
            # The deadline cut the connection mid-headers: the parser read the EOF as the end of the header
            # section. What was received is not a whole request: nothing is authorized or forwarded.
            self.close_connection = True
            self.server.access_log(log | {"framingError": "header section cut off at its deadline", "status": None})
            return
        fields = self.headers.items()
        try:
            if problem := self.request_problem():
                raise Framing(400, problem)
            if sum(len(k) + len(v) for k, v in fields) > MAX_HEADER_BYTES:
                raise Framing(431, "request headers over the limit")
            length = body_length(self.headers, MAX_BODY)
        except Framing as exc:
            self.close_connection = True
            log["framingError"] = str(exc)
            self._reply(exc.status, {"message": FRAMING_MESSAGES[exc.status]}, log, started)
            return
        target = clean_target(self.path)
        if target is None:  # refused before authorization: what is authorized is what is routed
            self.close_connection = True
            log["pathError"] = "not origin-form, an encoded dot, slash or backslash, or a query outside RFC 3986 3.4"
            self._reply(400, {"message": FRAMING_MESSAGES[400]}, log, started)
            return
        path, query = target
        cert_der = self.connection.getpeercert(binary_form=True)
        headers = dict(fields)
        event = build_event(
            self.server.api,
            self.command,
            path,
            query,
            headers,
            self.client_address[0],
            cert_der,
            client_cert=self._described(cert_der),
        )
        if event is None:
            self.close_connection = True  # the body, if any, is not read
            self._reply(403, MISSING_TOKEN, log, started)
            return
        log |= {
            "requestId": event["requestContext"]["requestId"],
            "clientCertSerial": event["requestContext"]["identity"]["clientCert"].get("serialNumber"),
        }
        try:
            response = self.server.authorizer(event, None)
        except Exception as exc:  # noqa: BLE001 - API Gateway turns an authorizer error into a 500
            log["authorizerError"] = repr(exc)[:300]
            response = None
        verdict = policy_allows(response, event["methodArn"]) if response is not None else None
        context = response.get("context", {}) if isinstance(response, dict) else {}
        log |= {"reason": context.get("reason"), "userId": context.get("userId"), "nodeId": context.get("nodeId")}
        if not verdict:  # decided before the body is read: a refused client's body is never buffered
            self.close_connection = True
            if verdict is None:
                self._reply(500, {"message": None}, log, started)
            else:
                forbidden = FORBIDDEN | {"reason": context.get("reason", ""), "requestId": log["requestId"]}
                self._reply(403, forbidden, log, started)
            return
        try:
            body = self._read_body(length)
        except (Framing, OSError) as exc:
            self.close_connection = True
            status = exc.status if isinstance(exc, Framing) else 400
            log["framingError"] = str(exc)[:200]
            self._reply(status, {"message": FRAMING_MESSAGES[status]}, log, started)
            return
        self._proxy(path, query, body, forwarded_headers(fields), context, log, started)

    def _described(self, cert_der: bytes) -> dict[str, Any]:
        """``client_cert_context(cert_der)``, worked out once per certificate (a TLS connection keeps its own), and
        copied for each request so that one request's event never shares a dict with the next one's."""
        if self._client_cert is None or self._client_cert[0] != cert_der:
            self._client_cert = (cert_der, client_cert_context(cert_der))
        return {key: dict(value) if isinstance(value, dict) else value for key, value in self._client_cert[1].items()}

    def _read_body(self, length: int | None) -> bytes:
        """The whole body (Content-Length or chunked, read to its last chunk and trailers), under a deadline."""
        deadline = self.server.watchdog.arm(self.connection, self.server.body_seconds)
        try:
            if length is not None:
                body = self.rfile.read(length) if length else b""
                if len(body) != length:
                    raise Framing(400, "body shorter than its Content-Length")
                return body
            return self._read_chunked()
        finally:
            self.server.watchdog.disarm(deadline)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\r\n") or not size or not all(c in b"0123456789abcdefABCDEF" for c in size):
                raise Framing(400, "malformed chunk size line")
            count = int(size, 16)
            if len(body) + count > MAX_BODY:
                raise Framing(413, "body over the limit")
            if count == 0:
                break
            chunk = self.rfile.read(count)
            if len(chunk) != count or self.rfile.read(2) != b"\r\n":
                raise Framing(400, "malformed chunk")
            body += chunk
        for _ in range(100):  # trailer fields, then the empty line
            line = self.rfile.readline(1024)
            if line in (b"\r\n", b""):
                if not line:
                    raise Framing(400, "chunked body ends before its last line")
                return bytes(body)
        raise Framing(400, "too many trailer fields")

    def _proxy(
        self,
        path: str,
        query: str,
        body: bytes,
        headers: dict[str, str],
        context: dict[str, Any],
        log: dict[str, Any],
        started: float,
    ) -> None:
        for header, key in IDENTITY_HEADERS.items():
            headers[header.title()] = str(context.get(key, ""))
        target = path + (f"?{query}" if query else "")
        try:
            status, upstream_headers, payload = self._exchange(target, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            log["integrationError"] = repr(exc)[:300]
            self._reply(
                502 if not isinstance(exc, TimeoutError) else 504, {"message": "Internal server error"}, log, started
            )
            return
        self.send_response(status)
        for name, value in upstream_headers:
            if name.lower() not in NOT_RETURNED:
                self.send_header(name, value)
        bodiless = self.command == "HEAD" or status in (204, 304)  # RFC 9110 8.6: no length to state on these
        if not bodiless:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:  # the client asked to close (RFC 9112 9.6: say so in the final answer)
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodiless:
            self.wfile.write(payload)
        self._log(status, log, started)

    def _exchange(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request to the backend on this client connection's own backend connection, kept open between
        requests as a VPC link keeps its connections. A connection the backend closed while idle is replaced once,
        for a method that may be repeated (RFC 9110 9.2.2); any other failure closes it (nothing half-read is
        reused), and so does a response that asks to close."""
        reused = self._backend is not None
        try:
            return self._send(target, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused or self.command not in IDEMPOTENT:
                raise
        return self._send(target, body, headers)

    def _send(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        if self._backend is None:
            backend = self.server.backend
            self._backend = FinalConnection(backend.hostname or "127.0.0.1", backend.port, timeout=29)
        try:
            self._backend.request(self.command, target, body=body or None, headers=headers)
            upstream = self._backend.getresponse()
            payload = upstream.read()
        except (OSError, http.client.HTTPException):
            self._close_backend()
            raise
        if upstream.will_close or not final_status(upstream.status):
            self._close_backend()
        if not final_status(upstream.status):
            raise http.client.HTTPException(f"backend answered {upstream.status}, not a final response")
        return upstream.status, upstream.getheaders(), payload

    def _close_backend(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def finish(self) -> None:
        """The client connection ends: so does its backend connection."""
        self._close_backend()
        super().finish()

    def _reply(self, status: int, payload: dict[str, Any], log: dict[str, Any], started: float) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-ErrorType", ERROR_TYPES.get(status, "InternalServerError"))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self._log(status, log, started)

    def _log(self, status: int, log: dict[str, Any], started: float) -> None:
        log |= {"status": status, "latencyMs": round((time.perf_counter() - started) * 1000, 2)}
        self.server.access_log(log)

    def log_message(self, format: str, *args: object) -> None:
        """Access logs are structured; see ``_log``."""


class Watchdog:
    """Shuts down sockets whose deadline passed: one thread for the whole server, checking every 50 ms
    (a timer thread per request would cost milliseconds: starting a thread waits for the GIL)."""

    def __init__(self, period: float = 0.05) -> None:
        self._period = period
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, socket.socket]] = {}
        self._tokens = iter(range(1, 1 << 62))
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, seconds: float) -> int:
        """Cut ``sock`` in ``seconds`` unless disarmed first; return the token to disarm it."""
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (time.monotonic() + seconds, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="edge-watchdog", daemon=True)
                self._thread.start()
        return token

    def disarm(self, token: int) -> bool:
        """Forget a deadline; False when it had already fired (the socket is cut) or was disarmed before."""
        with self._lock:
            return self._armed.pop(token, None) is not None

    def _run(self) -> None:
        while True:
            time.sleep(self._period)
            now = time.monotonic()
            with self._lock:
                expired = [token for token, (deadline, _) in self._armed.items() if deadline <= now]
                socks = [self._armed.pop(token)[1] for token in expired]
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


LINGER_SECONDS = 1.0


def _linger(tls: ssl.SSLSocket) -> None:
    """After a refused handshake: half-close and read what the client still sends, so the TLS alert that
    OpenSSL wrote reaches the client before a reset (closing with unread data makes the kernel send RST)."""
    with contextlib.suppress(OSError, ValueError):
        tls.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            tls.settimeout(left)
            if not tls.recv(4096):
                break
    tls.close()


ERROR_TYPES = {
    403: "AccessDeniedException",
    400: "BadRequestException",
    413: "RequestTooLargeException",
    431: "RequestHeaderFieldsTooLargeException",
}
FRAMING_MESSAGES = {
    400: "Bad Request",
    413: "Request Too Long",
    431: "Request Header Fields Too Large",
}


class EdgeServer(ThreadingHTTPServer):
    """TLS listener whose client-certificate truststore follows ``TRUSTSTORE_URI`` (re-read on refresh)."""

    daemon_threads = True
    request_queue_size = 128
    header_seconds = HEADER_SECONDS
    body_seconds = BODY_SECONDS

    def __init__(
        self,
        port: int,
        backend: str,
        server_cert: str,
        server_key: str,
        *,
        env: dict[str, str] | None = None,
        api: ApiIdentity | None = None,
        authorizer: Authorizer | None = None,
        access_log: Callable[[dict[str, Any]], None] | None = None,
        assertion_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        self._requests = 0  # before binding: a failed bind calls server_close
        self._idle = threading.Condition()
        super().__init__(("127.0.0.1", port), EdgeHandler)
        settings = load_settings(env if env is not None else os.environ)
        self.backend = urlsplit(backend)
        self.api = api or ApiIdentity()
        runtime = build_runtime(settings)
        if assertion_key is not None:
            runtime = runtime._replace(signer=AssertionSigner("local", local_certifier(assertion_key)))
        self.authorizer = authorizer or make_handler(runtime)
        self.watchdog = Watchdog()
        self.access_log = access_log or (lambda entry: print(json.dumps(entry), file=sys.stderr, flush=True))
        self._cert = (server_cert, server_key)

        load = blob_loader(
            settings.truststore_uri,
            self._tls_context,
            version=settings.truststore_version,
            timeout=2.0,
            max_bytes=10 * 1024 * 1024,
        )
        self.tls = Refreshing(load, settings.truststore_refresh_seconds, settings.source_max_stale_seconds)
        self.tls.get()

    def _tls_context(self, truststore: bytes) -> ssl.SSLContext:
        """TLS 1.2+, client certificate required and verified against the truststore bundle."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(*self._cert)
        context.load_verify_locations(cadata=truststore.decode("ascii", errors="replace"))
        return context

    @property
    def url(self) -> str:
        """Base URL of the edge."""
        return f"https://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake in the connection's own thread; a refused certificate never reaches the handler."""
        try:
            tls = self.tls.get().wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        except Exception as exc:  # noqa: BLE001 - truststore unavailable: refuse the connection, keep serving
            self.access_log({"ip": client_address[0], "tlsError": f"truststore unavailable: {exc}"[:200]})
            return
        try:
            tls.settimeout(30)
            tls.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.access_log({"ip": client_address[0], "tlsError": str(exc)[:200], "status": None})
            _linger(tls)
            return
        try:
            super().finish_request(tls, client_address)
        except (OSError, ValueError) as exc:  # the client went away mid-request, or its TLS state broke (the ssl
            # module raises ValueError on an SSL object in a failed state): one log line, no traceback on stderr
            self.access_log({"ip": client_address[0], "connectionError": str(exc)[:200], "status": None})
        finally:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a request from its parsed headers to its logged response."""
        with self._idle:
            self._requests += 1
        try:
            yield
        finally:
            with self._idle:
                self._requests -= 1
                self._idle.notify_all()

    def server_close(self) -> None:
        """Stop accepting, then wait (at most ``DRAIN_SECONDS``) for the requests in flight to be answered and
        logged; idle keep-alive connections do not hold the stop."""
        super().server_close()
        with self._idle:
            self._idle.wait_for(lambda: self._requests == 0, DRAIN_SECONDS)

    def start(self) -> EdgeServer:
        """Serve in a daemon thread and return self."""
        threading.Thread(target=self.serve_forever, args=(POLL_SECONDS,), name="edge", daemon=True).start()
        return self
