"""Bounded HTTP fetches for CRLs and OCSP: one deadline for the whole exchange, a size cap, and a destination rule.

The deadline covers name resolution, connect, TLS, headers and body: a watchdog shuts the socket down when
it passes, so a server that drip-feeds its headers cannot hold a fetch past it. The name is resolved once,
every address is checked against the destination rule, and the connection goes to the checked address."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from functools import lru_cache

from ..urls import http_url
from .limits import TooLarge, too_large

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "127.0.0.0/8",  # loopback
        "::1/128",
        "169.254.0.0/16",  # link-local, with the instance metadata service 169.254.169.254
        "fe80::/10",
        "fd00:ec2::/32",  # EC2's IPv6 metadata and DNS addresses (fd00:ec2::254, fd00:ec2::253)
        "0.0.0.0/8",  # "this network"
        "::/128",
        "224.0.0.0/4",  # multicast
        "ff00::/8",
    )
)
"""Destinations a certificate's CDP or AIA URL may not point to unless FETCH_ALLOWED_NETWORKS lists them."""


class FetchError(OSError):
    """The URL could not be fetched within the deadline and size cap, or its destination is refused."""


class FetchTooLarge(FetchError, TooLarge):
    """The URL sent, or declared, more than the size cap."""


def _mapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def destination_problem(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why ``address`` may not be fetched from, or None; FETCH_ALLOWED_NETWORKS entries win over the refusals."""
    address = _mapped(address)
    if any(address.version == net.version and address in net for net in allowed):
        return None
    for network in REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return f"destination {address} is in {network}, which revocation fetches may not reach"
    return None


def resolve(host: str, port: int, allowed: Sequence[IPNetwork]) -> list[tuple[int, str]]:
    """Every (family, address) ``host`` resolves to, after checking each; raise FetchError when any is refused
    (so a name that mixes a public and a refused address cannot be used to reach the refused one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from None
    found: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        problem = destination_problem(address, allowed)
        if problem:
            raise FetchError(f"{host}: {problem}")
        if (family, str(address)) not in found:
            found.append((family, str(address)))
    if not found:
        raise FetchError(f"{host!r} has no address")
    return found


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """The system trust store, loaded once per container (loading it costs milliseconds)."""
    return ssl.create_default_context()


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to an address checked beforehand; TLS still verifies the certificate for the host name."""

    def __init__(self, host: str, port: int, address: tuple[int, str], *, tls: bool, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        family, address = self._address
        raw = socket.socket(family, socket.SOCK_STREAM)
        raw.settimeout(self.timeout)
        try:
            raw.connect((address, self.port))
            self.sock = _tls_context().wrap_socket(raw, server_hostname=self.host) if self._tls else raw
        except BaseException:
            raw.close()
            raise


def fetch_url(
    url: str,
    *,
    body: bytes | None = None,
    content_type: str = "",
    timeout: float,
    max_bytes: int,
    allowed_networks: Sequence[IPNetwork] = (),
) -> bytes:
    """GET (or POST ``body`` to) an http(s) URL; raise FetchError on any failure, a status other than 200,
    a refused destination, more than ``max_bytes``, or more than ``timeout`` seconds in total. Redirects are
    not followed (a 3xx is a failure)."""
    parts = http_url(url)
    if parts is None or parts.hostname is None:
        raise FetchError(f"unsupported URL {url!r}")
    deadline = time.monotonic() + timeout
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    address = resolve(parts.hostname, port, allowed_networks)[0]
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"{url}: name resolution took longer than {timeout}s")
    connection = _PinnedConnection(parts.hostname, port, address, tls=tls, timeout=remaining)
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": content_type} if body is not None else {}
    try:
        connection.request("POST" if body is not None else "GET", target, body=body, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise FetchError(f"HTTP {response.status} from {url}")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchTooLarge(too_large(url, int(declared), max_bytes))
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FetchTooLarge(too_large(url, len(data), max_bytes, at_least=True))
        if expired.is_set():
            raise FetchError(f"{url} took longer than {timeout}s")
        return data
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            raise FetchError(f"{url} took longer than {timeout}s") from None
        raise FetchError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    finally:
        watchdog.cancel()
        connection.close()
