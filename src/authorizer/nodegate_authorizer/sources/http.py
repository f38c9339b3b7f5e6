"""Bounded HTTP fetches for CRLs and OCSP: one deadline for the whole exchange and a size cap."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit


class FetchError(OSError):
    """The URL could not be fetched within the deadline and size cap."""


def fetch_url(url: str, *, body: bytes | None = None, content_type: str = "", timeout: float, max_bytes: int) -> bytes:
    """GET (or POST ``body`` to) an http(s) URL; raise FetchError on any failure, status other than 200,
    more than ``max_bytes`` or more than ``timeout`` seconds in total (slow or hanging servers included)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"unsupported URL {url!r}")
    deadline = time.monotonic() + timeout
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": content_type} if body is not None else {}
    try:
        connection.request("POST" if body is not None else "GET", target, body=body, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise FetchError(f"HTTP {response.status} from {url}")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"{url} declares {declared} bytes (cap {max_bytes})")
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"{url} took longer than {timeout}s")
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{url} sent more than {max_bytes} bytes")
            chunks.append(chunk)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    finally:
        connection.close()
