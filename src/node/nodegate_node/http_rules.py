"""Request rules shared by the local edge and the node backend (stdlib only: it runs on the EC2 nodes).

- Paths: dot segments are resolved (RFC 3986 5.2.4); encoded dots, slashes and backslashes, dot segments with path
  parameters (``..;``, which servlet containers resolve as ``..``), and encoded controls or bytes that are not UTF-8
  (``..%00``, overlong ``%c0%ae``) are refused,
  so the path that is authorized is the path that is routed and forwarded; an upstream path is built only
  inside the node's base path.
- Header names: an identity header is recognised after case folding and ``_``/``-`` folding (CGI and WSGI map
  ``X_User_Id`` and ``X-User-Id`` to the same variable).
- Header framing: obs-fold and whitespace between a field name and its colon are refused (RFC 9112 5.1, 5.2);
  the stdlib parser accepts the first and silently stops at the second. So is a header section that the end of
  the stream ends instead of its empty line (RFC 9112 2.1), which the stdlib parser takes for a whole one, and an
  HTTP/1.1 request without exactly one valid Host (RFC 9112 3.2). Connection is a list of options (RFC 9112 9.6).
- Body framing: one Content-Length or chunked, never both, never two lengths (RFC 9112 6), so both hops agree
  on where a request ends.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from email.message import Message
from http.server import BaseHTTPRequestHandler
from io import BufferedIOBase
from typing import cast
from urllib.parse import unquote_to_bytes

ENCODED_SEPARATORS = re.compile(r"%(?:25)*(?:2e|2f|5c)", re.IGNORECASE)
"""``%2e`` (.), ``%2f`` (/), ``%5c`` (\\), also encoded again (``%252e``): a decoding hop could turn them into
segments or dot segments."""
PARAMETER_DOTS = re.compile(r"(?:^|/)\.{1,2}(?:;|%(?:25)*3b)", re.IGNORECASE)
"""A dot segment with path parameters (``..;x``, ``.;``, also ``..%3b`` and ``..%253b``, as ``ENCODED_SEPARATORS``
reads re-encoding): RFC 3986 reads it as an ordinary segment,
but servlet containers strip the parameters first (Tomcat's CoyoteAdapter.parsePathParameters) and then resolve it as
``..``: the "..;" traversal of a node's upstream from behind a proxy that let it through."""
DECODED_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def decodes_cleanly(path: str) -> bool:
    """Whether every decoding of ``path`` (percent-decoded once, twice... until it stops changing) is UTF-8 without a
    control character. Refused otherwise: ``%00`` (Jetty resolved ``..%00`` as ``..``, CVE-2021-34429), overlong
    forms such as ``%c0%ae`` (lenient decoders read ``.``, CVE-2008-2938), and either encoded again (``%2500``)."""
    data = path.encode("ascii")
    for _ in range(4):
        decoded = unquote_to_bytes(data)
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if DECODED_CONTROL.search(text):
            return False
        if decoded == data:
            return True
        data = decoded
    return False


TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 5.6.2: a field name is a token."""


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, step by step: ``/a/b/../c/./d`` -> ``/a/c/d``."""
    output: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./") or path == "/.":
            path = "/" + path[3:]
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if output:
                output.pop()
        elif path in (".", ".."):
            path = ""
        else:
            end = path.find("/", 1)
            end = len(path) if end < 0 else end
            output.append(path[:end])
            path = path[end:]
    return "".join(output)


def clean_path(path: str) -> str | None:
    """The origin-form path (no query) with its dot segments resolved, or None when it must be refused: not
    starting with ``/``, a character outside RFC 3986 3.3 (non-ASCII, a control, a backslash: other octets are
    percent-encoded), an encoded dot, slash or backslash in any case, encoded once or more, a dot segment with
    path parameters (``PARAMETER_DOTS``), or a decoding that is not UTF-8 or holds a control (``decodes_cleanly``)."""
    if not path.startswith("/") or not PATH.fullmatch(path):
        return None
    if ENCODED_SEPARATORS.search(path) or PARAMETER_DOTS.search(path) or not decodes_cleanly(path):
        return None
    return remove_dot_segments(path)


PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
"""RFC 3986 3.3: a path is segments of pchars; anything else (non-ASCII, controls, spaces, a backslash) is refused."""
QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
"""RFC 3986 3.4: a query is pchars, "/" and "?"; anything else (non-ASCII, spaces, controls, "#") is refused."""


def clean_target(target: str) -> tuple[str, str] | None:
    """The origin-form request-target as its cleaned path (``clean_path``) and its query, or None when either
    must be refused: what is authorized and routed is exactly what is forwarded, in ASCII."""
    raw_path, _, query = target.partition("?")
    path = clean_path(raw_path)
    return (path, query) if path is not None and QUERY.fullmatch(query) else None


def final_status(status: int) -> bool:
    """Whether an upstream's answer is a final response (RFC 9110 15: 2xx-5xx); a 1xx is interim, and one
    that reaches a client as the answer hides the real one behind it."""
    return 200 <= status <= 599


def inside(base: str, below: str) -> str | None:
    """``base``'s path joined with ``below`` (a path under it), or None when the result would leave ``base``."""
    prefix = base.rstrip("/") + "/"
    target = clean_path(prefix + below)
    return target if target is not None and target.startswith(prefix) else None


def fold(name: str) -> str:
    """A header name as CGI/WSGI see it: case and ``_``/``-`` folded."""
    return name.lower().replace("_", "-")


def without(headers: Iterable[tuple[str, str]], names: Iterable[str]) -> dict[str, str]:
    """``headers`` without every one whose name reads as one of ``names`` once folded."""
    dropped = {fold(name) for name in names}
    return {name: value for name, value in headers if fold(name) not in dropped}


CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""RFC 9110 5.5 and RFC 9112 4: a field line or a status line holds no control character but HTAB (its own
CRLF ending excepted): a NUL or a bare CR is refused, never split on or passed on."""


class SectionReader:
    """The stream a header section is parsed from, remembering whether the stream ended before the section did."""

    def __init__(self, stream: BufferedIOBase) -> None:
        self.stream = stream
        self.cut = False

    def readline(self, limit: int = -1) -> bytes:
        line = self.stream.readline(limit)
        self.cut = self.cut or not line
        return line


class WholeSectionHandler(BaseHTTPRequestHandler):
    """A request handler that knows whether its request's header section ended at its empty line (RFC 9112 2.1)
    or at the end of the stream (``section_cut``), which the stdlib parser does not tell apart, and that reads
    Connection as the list of options it is (RFC 9112 9.6), where the stdlib compares one line's whole value."""

    section_cut = False

    def parse_request(self) -> bool:
        reader = SectionReader(self.rfile)
        self.rfile, stream = cast(BufferedIOBase, reader), self.rfile
        try:
            parsed = super().parse_request()
        finally:
            self.rfile = stream
            self.section_cut = reader.cut
        if parsed:
            options = connection_options(self.headers)
            if "close" in options:
                self.close_connection = True
            elif "keep-alive" in options and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
        return parsed

    def request_problem(self) -> str | None:
        """Why this request's header section must be answered 400 (None when it need not): its framing
        (``framing_problem``) or its Host (``host_problem``)."""
        return framing_problem(self.headers, self.section_cut) or host_problem(self.request_version, self.headers)


def connection_options(headers: Message) -> set[str]:
    """The connection options of every Connection field line, case-folded (RFC 9112 9.6, RFC 9110 7.6.1)."""
    return {option.strip().lower() for value in headers.get_all("Connection", []) for option in value.split(",")}


HOST = re.compile(r"(?:\[(?P<literal>[^\]]*)\]|(?:[0-9A-Za-z\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?")
"""RFC 9110 7.2: Host is ``uri-host [ ":" port ]`` (RFC 3986 3.2.2: an IP literal in brackets, or a reg-name of
unreserved, percent-encoded and sub-delims characters, empty included; 3.2.3: a port of digits)."""
IP_FUTURE = re.compile(r"v[0-9A-Fa-f]+\.[0-9A-Za-z\-._~!$&'()*+,;=:]+")
"""RFC 3986 3.2.2: IPvFuture, the other form of an IP literal."""


def host_problem(version: str, headers: Message) -> str | None:
    """Why a request's Host breaks RFC 9112 3.2 (None when it does not): missing from an HTTP/1.1 request, on more
    than one line, or not ``uri-host [ ":" port ]``; a server answers each with 400."""
    hosts = headers.get_all("Host", [])
    if not hosts:
        return None if version in ("HTTP/0.9", "HTTP/1.0") else "an HTTP/1.1 request without Host (RFC 9112 3.2)"
    if len(hosts) > 1:
        return "more than one Host line (RFC 9112 3.2)"
    host = HOST.fullmatch(hosts[0].strip(" \t"))
    if host is None or (host["literal"] is not None and not _ip_literal(host["literal"])):
        return "Host is not uri-host[:port] (RFC 9112 3.2, RFC 9110 7.2)"
    return None


def _ip_literal(text: str) -> bool:
    """Whether ``text`` (between the brackets) is an IPv6address without a zone, or an IPvFuture (RFC 3986 3.2.2)."""
    if IP_FUTURE.fullmatch(text):
        return True
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return "%" not in text


def framing_problem(headers: Message, cut: bool = False) -> str | None:
    """Why the parsed header section breaks RFC 9112 (None when it does not): ``cut`` (the stream ended before
    the empty line that ends a header section, 2.1), obs-fold, a line that is not ``name: value`` (whitespace
    before the colon included), or a field name that is not a token (5)."""
    if cut:
        return "the header section ends without its empty line (RFC 9112 2.1)"
    if headers.defects or headers.get_payload() or headers.get_unixfrom():
        return "a header line is not 'name: value' (RFC 9112 5.1: no whitespace before the colon)"
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            return f"header {name!r} is continued by obs-fold (RFC 9112 5.2)"
        if not TOKEN.fullmatch(name):
            return f"header name {name!r} is not a token (RFC 9110 5.1)"
        if CONTROL.search(value):
            return f"header {name!r} holds a control character (RFC 9110 5.5)"
    return None


class Framing(ValueError):
    """The request's message framing breaks RFC 9112; ``status`` is 400, 411 or 413."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_length(headers: Message, limit: int) -> int | None:
    """RFC 9112 6: the Content-Length to read, None for a chunked body; raise Framing for anything else (both
    hops use it, so the edge and the node never disagree on where a request ends)."""
    encodings = [v.strip().lower() for value in headers.get_all("Transfer-Encoding", []) for v in value.split(",")]
    lengths = [v.strip() for value in headers.get_all("Content-Length", []) for v in value.split(",")]
    if encodings and lengths:
        raise Framing(400, "Transfer-Encoding and Content-Length together")
    if encodings:
        if encodings != ["chunked"]:
            raise Framing(400, f"unsupported Transfer-Encoding {','.join(encodings)!r}")
        return None
    if not lengths:
        return 0
    if len(set(lengths)) != 1 or not lengths[0].isdigit() or not lengths[0].isascii():
        raise Framing(400, "invalid or conflicting Content-Length")
    length = int(lengths[0])
    if length > limit:
        raise Framing(413, "body over the limit")
    return length
