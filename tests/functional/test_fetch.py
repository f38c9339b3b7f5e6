"""Revocation fetches against hostile servers on 127.0.0.1: one deadline that holds, and a destination rule."""

from __future__ import annotations

import ipaddress
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import Invoke
from nodegate.pki.server import POLL_SECONDS
from nodegate_authorizer.settings import ConfigError, load_settings
from nodegate_authorizer.sources.http import FetchError, destination_problem, fetch_url
from nodegate_dev.world import World

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


class Drip(socketserver.BaseRequestHandler):
    """Sends a response one byte every 0.1 s (headers first), up to 30 s; or a redirect."""

    def handle(self) -> None:
        self.request.recv(65536)
        if self.server.mode == "redirect":  # type: ignore[attr-defined]
            self.request.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
            )
            return
        response = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nX-Slow: " + b"a" * 300
        started = time.monotonic()
        for byte in response:
            if time.monotonic() - started > 30:
                return
            try:
                self.request.sendall(bytes([byte]))
            except OSError:
                return
            time.sleep(0.1)


@pytest.fixture
def drip() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    server.mode = "drip"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: socketserver.TCPServer, path: str = "/crl") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_deadline_holds_against_drip_fed_headers(drip: socketserver.ThreadingTCPServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"longer than 0\.5s"):
        fetch_url(url(drip), timeout=0.5, max_bytes=1 << 20, allowed_networks=LOOPBACK)
    assert time.monotonic() - started < 1.0


def test_redirects_are_not_followed(drip: socketserver.ThreadingTCPServer) -> None:
    drip.mode = "redirect"  # type: ignore[attr-defined]
    with pytest.raises(FetchError, match="HTTP 302"):
        fetch_url(url(drip), timeout=1, max_bytes=1 << 20, allowed_networks=LOOPBACK)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:9/crl",
        "http://localhost:9/crl",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/crl",
        "http://[::ffff:127.0.0.1]:9/crl",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0:9/",
    ],
)
def test_refused_destinations(target: str) -> None:
    with pytest.raises(FetchError, match="revocation fetches may not reach"):
        fetch_url(target, timeout=0.5, max_bytes=1024)


def test_allowed_networks_and_schemes() -> None:
    assert destination_problem(ipaddress.ip_address("127.0.0.1"), LOOPBACK) is None
    assert destination_problem(ipaddress.ip_address("10.1.2.3"), ()) is None  # private PKIs are allowed
    assert destination_problem(ipaddress.ip_address("169.254.169.254"), LOOPBACK) is not None
    for target in ("ftp://pki.example/crl", "ldap://pki.example/cn=ca", "file:///etc/passwd", "http:///nohost"):
        with pytest.raises(FetchError, match="unsupported URL"):
            fetch_url(target, timeout=0.5, max_bytes=1024)
    assert load_settings({"TRUSTSTORE_URI": "file:///x", "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128"})
    with pytest.raises(ConfigError, match="FETCH_ALLOWED_NETWORKS"):
        load_settings({"TRUSTSTORE_URI": "file:///x", "FETCH_ALLOWED_NETWORKS": "localhost"})


def test_loopback_cdp_without_the_setting_is_an_unanswered_source(world: World, invoke: Invoke) -> None:
    leaf = world.client(with_ocsp_url=False).cert_pem()
    assert invoke(leaf)[:2] == ("Allow", None)  # the world allows 127.0.0.0/8
    assert invoke(leaf, env={"FETCH_ALLOWED_NETWORKS": ""})[:2] == ("Deny", "REVOCATION_UNAVAILABLE")


def test_a_drip_fed_cdp_does_not_hold_the_decision_or_other_users(
    world: World, invoke: Invoke, drip: socketserver.ThreadingTCPServer
) -> None:
    """Eight drip-fed CDPs on one certificate: its decision ends within the timeout (plus scheduling), and another
    user with a healthy CDP is decided normally at the same time."""
    from cryptography import x509

    points = [
        x509.DistributionPoint([x509.UniformResourceIdentifier(url(drip, f"/crl/{n}"))], None, None, None)
        for n in range(8)
    ]
    slow_leaf = world.issuing.issue(
        x509.Name.from_rfc4514_string("CN=node-2,UID=bob"),
        with_crl_url=False,
        with_ocsp_url=False,
        extensions=[(x509.CRLDistributionPoints(points), False)],
    ).cert_pem()
    healthy = world.client(with_ocsp_url=False).cert_pem()
    env = {"FETCH_TIMEOUT_SECONDS": "0.5", "REVOCATION_RETRY_SECONDS": "0"}
    results: dict[str, tuple[str, str | None, float]] = {}

    def decide(name: str, pem: bytes, node: str) -> None:
        started = time.monotonic()
        effect, reason, _ = invoke(pem, node=node, env=env)
        results[name] = (effect, reason, time.monotonic() - started)

    invoke(healthy, env=env)  # set the environment once, from this thread
    slow = threading.Thread(target=decide, args=("slow", slow_leaf, "node-2"))
    slow.start()
    time.sleep(0.1)
    decide("healthy", healthy, "node-1")
    slow.join(10)
    assert results["slow"][:2] == ("Deny", "REVOCATION_UNAVAILABLE")
    assert results["slow"][2] < 0.5 + 0.5
    assert results["healthy"][:2] == ("Allow", None)
    assert results["healthy"][2] < 0.5
