"""Test and bench world: a real PKI, a real CRL/OCSP server on 127.0.0.1 with fault injection, and events
(used by tests/, bench/ and scripts/; it never runs in the Lambda)."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from nodegate.pki.authority import CertificateAuthority, Issued, client_name, crl_der, pem, utcnow
from nodegate.pki.server import RevocationHandler, RevocationServer

API = "arn:aws:execute-api:eu-west-1:123456789012:abc123"


class FaultyHandler(RevocationHandler):
    """Misbehaves on purpose when ``server.faults`` names a fault for the request kind (crl or ocsp)."""

    server: TestRevocationServer

    def _fault(self) -> str | None:
        kind = "crl" if self.path.startswith("/crl/") else "ocsp"
        self.server.hits[kind] = self.server.hits.get(kind, 0) + 1
        return self.server.faults.get(kind)

    def do_GET(self) -> None:
        if not self._misbehave():
            super().do_GET()

    def do_POST(self) -> None:
        if not self._misbehave():
            super().do_POST()

    def _misbehave(self) -> bool:
        fault = self._fault()
        if fault is None:
            return False
        if fault == "500":
            self._raw(500, b"boom")
        elif fault == "garbage":
            self._raw(200, b"\x30\x03\x02\x01\x00 this is not DER")
        elif fault == "oversized":
            self._raw(200, b"\x00" * (3 * 1024 * 1024))
        elif fault == "slow":
            time.sleep(self.server.slow_seconds)
            return False
        elif fault == "hang":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            time.sleep(self.server.slow_seconds)
        elif fault == "drip":  # the status line and headers, one byte every 50 ms: never done in time
            started = time.monotonic()
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Drip: " + b"a" * 400:
                if time.monotonic() - started > self.server.slow_seconds:
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        return True

    def _raw(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class TestRevocationServer(RevocationServer):
    """RevocationServer with a fault switch, hit counters and a configurable slowness."""

    def __init__(self, responder: Any) -> None:
        super().__init__(responder, 0, FaultyHandler)
        self.faults: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        self.slow_seconds = 3.0


@dataclass
class MemoryResponder:
    """Answers from in-memory CAs; the world mutates ``revoked`` and the override hooks."""

    cas: dict[str, CertificateAuthority]
    signers: dict[str, Issued]
    revoked: dict[int, dt.datetime] = field(default_factory=dict)
    ocsp_only_revoked: set[int] = field(default_factory=set)
    crl_override: dict[str, bytes] = field(default_factory=dict)
    ocsp_override: dict[str, Any] = field(default_factory=dict)

    def crl(self, ca: str) -> bytes | None:
        if ca in self.crl_override:
            return self.crl_override[ca]
        authority = self.cas.get(ca)
        return crl_der(authority.crl(self.revoked)) if authority else None

    def ocsp(self, ca: str, request: bytes) -> bytes | None:
        authority = self.cas.get(ca)
        if authority is None:
            return None
        parsed = ocsp.load_der_ocsp_request(request)
        if ca in self.ocsp_override:
            answer: bytes = self.ocsp_override[ca](authority, parsed)
            return answer
        serial = parsed.serial_number
        bad = serial in self.revoked or serial in self.ocsp_only_revoked
        status = ocsp.OCSPCertStatus.REVOKED if bad else ocsp.OCSPCertStatus.GOOD
        response = authority.ocsp_response(
            parsed, status, revoked_at=utcnow() - dt.timedelta(hours=1), responder=self.signers.get(ca)
        )
        return response.public_bytes(serialization.Encoding.DER)


class World:
    """Root CA -> issuing CA (CDP + OCSP via a delegated signer) -> client certificates, on disk and served;
    every key of kind ``key`` (``ec`` or ``rsa``, see ``nodegate.pki.new_key``)."""

    def __init__(self, tmp: Path, key: str = "ec") -> None:
        self.tmp = tmp
        self.key = key
        self.responder = MemoryResponder({}, {})
        self.server = TestRevocationServer(self.responder).start()
        url = self.server.url
        self.root = CertificateAuthority.root("nodegate test root", key=key, crl_url=f"{url}/crl/root.crl")
        self.issuing = self.root.sub_ca(
            "nodegate test issuing", key=key, crl_url=f"{url}/crl/issuing.crl", ocsp_url=f"{url}/ocsp/issuing"
        )
        self.responder.cas.update(root=self.root, issuing=self.issuing)
        self.responder.signers["issuing"] = self.issuing.ocsp_signer()
        self.truststore = tmp / "truststore.pem"
        self.truststore.write_bytes(pem(self.root.cert, self.issuing.cert))
        self.crl_store = tmp / "crl-store"
        self.crl_store.mkdir()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self, user: str = "alice", node: str = "node-1", **kw: Any) -> Issued:
        return self.issuing.issue(client_name(user, node), **{"key": self.key} | kw)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "TRUSTSTORE_URI": self.truststore.as_uri(),
            "REVOCATION_MODE": "hard-fail",
            "FETCH_TIMEOUT_SECONDS": "0.5",
            "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "REVOCATION_RETRY_SECONDS": "0",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        env.update(overrides)
        return {k: v for k, v in env.items() if v != ""}

    def store_crl(self, ca: CertificateAuthority, revoked: dict[int, dt.datetime], name: str = "issuing.crl") -> Path:
        path = self.crl_store / name
        path.write_bytes(crl_der(ca.crl(revoked)))
        return path


def event(
    cert_pem: bytes | str | None, node: str = "node-1", method: str = "GET", tail: str = "status"
) -> dict[str, Any]:
    """A REST API REQUEST authorizer event shaped as API Gateway sends it for /nodes/{nodeId}/{proxy+}."""
    path = f"/nodes/{node}/{tail}" if tail else f"/nodes/{node}"
    identity: dict[str, Any] = {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"}
    if cert_pem is not None:
        text = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
        identity["clientCert"] = {
            "clientCertPem": text,
            "subjectDN": "CN=node-1",
            "issuerDN": "CN=nodegate test issuing",
            "serialNumber": "01",
            "validity": {"notBefore": "May 28 12:30:02 2025 GMT", "notAfter": "Aug  5 09:36:04 2035 GMT"},
        }
    return {
        "type": "REQUEST",
        "methodArn": f"{API}/prod/{method}{path}",
        "resource": "/nodes/{nodeId}/{proxy+}" if tail else "/nodes/{nodeId}",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "nodes.example.com"},
        "multiValueHeaders": {"Host": ["nodes.example.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"nodeId": node, "proxy": tail} if tail else {"nodeId": node},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "r1",
            "resourcePath": "/nodes/{nodeId}/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "stage": "prod",
            "requestId": "req-1",
            "identity": identity,
            "apiId": "abc123",
            "domainName": "nodes.example.com",
        },
    }


def openssl_v1_client(
    ca: CertificateAuthority,
    tmp: Path,
    subject: str = "/CN=node-1/UID=alice",
    digest: str = "sha256",
    serial: int = 4242,
) -> bytes:
    """A v1 leaf made the way the common tutorial makes it: ``openssl x509 -req`` with no extensions."""
    (tmp / "ca.pem").write_bytes(pem(ca.cert))
    (tmp / "ca.key").write_bytes(Issued(ca.cert, ca.key).key_pem())

    def run(*args: str) -> None:
        subprocess.run(args, cwd=tmp, check=True, capture_output=True)

    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "v1.key", "-out", "v1.csr", "-subj", subject)
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "v1.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        str(serial),
        "-out",
        "v1.pem",
        "-days",
        "30",
        f"-{digest}",
    )
    return (tmp / "v1.pem").read_bytes()


def decision(response: dict[str, Any]) -> tuple[str, str | None]:
    """(Effect, reason) of an authorizer response."""
    effects = {s["Effect"] for s in response["policyDocument"]["Statement"]}
    effect = "Allow" if effects == {"Allow"} else "Deny"
    return effect, response.get("context", {}).get("reason")
