"""An upstream's answer as the node proxy may forward it: the raw status line and header section are kept so
they can be checked before anything reaches the client (RFC 9112 4, 5, 6.3; RFC 9110 5.5). The header rules
themselves are ``http_rules``' (one rule for requests and responses); this module adds only what a response
needs on top: the bytes the stdlib parser does not keep (a bare CR or a NUL it splits on or passes through), and
reading past interim 1xx answers to the final one (RFC 9110 15.2), for the node and the edge alike."""

from __future__ import annotations

import http.client
import socket
import sys
from typing import Any, cast

from nodegate_node.http_rules import CONTROL, Framing, body_length, framing_problem


class _HeadRecorder:
    """A response's reader that keeps every line read up to the first blank line after a final status."""

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self.lines: list[bytes] = []
        self.done = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        if not self.done:
            self.lines.append(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


MAX_INTERIM = 16
"""Interim answers read before a final one at most; an upstream sending more is failed (502), not waited on."""


class FinalResponse(http.client.HTTPResponse):
    """An answer read past its interim 1xx answers (RFC 9110 15.2: a client parses them before the final one), which
    are dropped, not forwarded (docs/conformance.md, rule H1); the stdlib skips only 100. A 101 is left to the caller:
    no Upgrade is forwarded, so it is never a valid answer."""

    def _read_status(self) -> tuple[str, int, str]:
        """The stdlib's own step (3.11 to 3.13: ``begin`` reads the status line through it), past interim answers."""
        for _ in range(MAX_INTERIM):
            version, status, reason = super()._read_status()  # type: ignore[misc]  # not in typeshed
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's fields (limits as for a final one)
        raise http.client.HTTPException(f"more than {MAX_INTERIM} interim answers")


class FinalConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` whose answers are ``FinalResponse``."""

    response_class = FinalResponse


class RecordedResponse(FinalResponse):
    """``HTTPResponse`` that keeps its raw status and field lines in ``head``."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._recorder = _HeadRecorder(self.fp)
        self.fp = self._recorder  # type: ignore[assignment]

    def begin(self) -> None:
        """Parse the answer, then stop recording (the body is not kept)."""
        try:
            super().begin()
        finally:
            self._recorder.done = True

    @property
    def head(self) -> list[bytes]:
        """The raw lines read for the head, interim answers included."""
        return self._recorder.lines


class RecordingConnection(FinalConnection):
    """An ``HTTPConnection`` whose answers are ``RecordedResponse``."""

    response_class = RecordedResponse

    def getresponse(self) -> RecordedResponse:
        """The answer, with its raw head."""
        return cast(RecordedResponse, super().getresponse())


def answer_problem(response: RecordedResponse) -> str | None:
    """Why an upstream answer cannot be forwarded (None when it can): a control octet in its status or field
    lines, a header section ``http_rules.framing_problem`` refuses (obs-fold must not be passed on, RFC 9112
    5.2), or framing ``http_rules.body_length`` refuses (two or invalid Content-Lengths, Content-Length with
    Transfer-Encoding: RFC 9112 6.3 makes the proxy answer 502)."""
    for line in response.head:
        if CONTROL.search(line.removesuffix(b"\n").removesuffix(b"\r").decode("latin-1")):
            return "a control character in the status or a header line (RFC 9110 5.5)"
    if problem := framing_problem(response.msg):
        return problem
    try:
        body_length(response.msg, sys.maxsize)
    except Framing as exc:
        return str(exc)
    return None
