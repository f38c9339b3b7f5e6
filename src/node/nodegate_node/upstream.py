"""An upstream's answer as the node proxy may forward it: the raw status line and header section are kept so
they can be checked before anything reaches the client (RFC 9112 4, 5, 6.3; RFC 9110 5.5). The header rules
themselves are ``http_rules``' (one rule for requests and responses); this module adds only what a response
needs on top: the bytes the stdlib parser does not keep (a bare CR or a NUL it splits on or passes through)."""

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


class RecordedResponse(http.client.HTTPResponse):
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


class RecordingConnection(http.client.HTTPConnection):
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
