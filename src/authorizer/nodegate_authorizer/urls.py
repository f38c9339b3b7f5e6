"""http(s) URLs from outside (a certificate's CRL distribution points and OCSP locations, a setting): parsed here,
once, into a usable URL or nothing."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def http_url(text: str) -> SplitResult | None:
    """``text`` as an http(s) URL with a host and a port in range, or None: ``urlsplit`` raises ValueError on a
    malformed IPv6 literal (``http://[::1``) and its ``port`` on a port outside 0-65535."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    return parts if parts.scheme in ("http", "https") and parts.hostname else None
