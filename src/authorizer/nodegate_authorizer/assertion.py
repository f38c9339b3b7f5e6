"""Signed assertions for the node backend: an Allow in a form that only this authorizer can make.

The container holds an ephemeral ECDSA P-256 key. Its public key and expiry are certified once per key
lifetime by a KMS asymmetric key (ECC_NIST_P256, ECDSA_SHA_256) whose key policy lets only the authorizer's
role sign, so the hot path never calls KMS. Each Allow carries the assertion ``C.K.B.S`` (base64url, no
padding): ``C`` the JSON key certificate ``{"v", "kid", "pub" (SPKI DER, base64), "exp"}``, ``K`` its KMS
signature (DER), ``B`` the JSON claims ``{"v", "rid", "iat", "exp", "method", "path", "node", "user", "sub"}``
and ``S`` the ephemeral key's DER signature over ``B``. The node (``nodegate_node.assertion``) checks both
signatures, the expiries, that method, path and node are those of the request, and refuses a request id twice.
See docs/decisions.md, "The node believes only this API's authorizer"."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives._serialization import Encoding, PublicFormat  # see certificates.py
from cryptography.hazmat.primitives.asymmetric import ec

from .identity import DEFAULT_RULE
from .reasons import Denied, Reason

ASSERTION_SECONDS = 30
"""How long an assertion is valid: API Gateway calls the integration right after the authorizer."""
KEY_SECONDS = 6 * 3600
"""How long one ephemeral key is certified (one KMS Sign per container per this many seconds)."""
Certifier = Callable[[bytes], bytes]
"""Signs bytes with the KMS key (ECDSA_SHA_256, DER signature); raises on any failure."""


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@cache
def signature_algorithm() -> ec.ECDSA:
    """ECDSA with RFC 6979 nonces: a signature needs no random state, so environments restored from one SnapStart
    snapshot (one user-space generator state) cannot share a nonce. Made at the first signature: checking that
    OpenSSL supports it loads the OpenSSL backend (~8 ms), which a Deny never needs."""
    return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def ephemeral_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key whose scalar comes from os.urandom, the kernel's generator (which a SnapStart restore reseeds),
    uniform in [1, n-1] up to a 2^-128 bias."""
    return ec.derive_private_key(int.from_bytes(os.urandom(48), "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class Claims(NamedTuple):
    """What an assertion says about one authorized request."""

    request_id: str
    method: str
    path: str
    node_id: str
    user_id: str
    subject: str
    rule: str = DEFAULT_RULE
    """The identity rule that read the ids (README, Identity rules)."""


class _Key(NamedTuple):
    private: ec.EllipticCurvePrivateKey
    certificate: str
    expires: float


class AssertionSigner:
    """Signs claims with a KMS-certified ephemeral key, renewed before it expires."""

    def __init__(self, key_id: str, certify: Certifier, key_seconds: float = KEY_SECONDS) -> None:
        self.key_id = key_id
        self._certify = certify
        self._key_seconds = key_seconds
        self._key: _Key | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop the ephemeral key: the next assertion is signed with a new one (after a SnapStart restore, every
        restored environment would otherwise share the key held in the snapshot)."""
        with self._lock:
            self._key = None

    def sign(self, claims: Claims, now: float) -> str:
        """The assertion for ``claims`` at ``now`` (epoch seconds); Denied(ASSERTION_UNAVAILABLE) when the key
        cannot be certified."""
        key = self._current(now)
        issued = int(now)
        body = _json(
            {
                "v": 1,
                "rid": claims.request_id,
                "iat": issued,
                "exp": issued + ASSERTION_SECONDS,
                "method": claims.method,
                "path": claims.path,
                "node": claims.node_id,
                "user": claims.user_id,
                "sub": claims.subject,
                "rule": claims.rule,
            }
        )
        signature = key.private.sign(body, signature_algorithm())
        return f"{key.certificate}.{b64url(body)}.{b64url(signature)}"

    def _current(self, now: float) -> _Key:
        key = self._key
        if key is not None and now + ASSERTION_SECONDS < key.expires:
            return key
        with self._lock:
            if self._key is None or now + ASSERTION_SECONDS >= self._key.expires:
                self._key = self._new_key(now)
            return self._key

    def _new_key(self, now: float) -> _Key:
        private = ephemeral_key()
        public = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        expires = int(now + self._key_seconds)
        certificate = _json({"v": 1, "kid": self.key_id, "pub": base64.b64encode(public).decode(), "exp": expires})
        try:
            signature = self._certify(certificate)
        except Exception as exc:  # noqa: BLE001 - any KMS failure: no assertion, so no Allow
            raise Denied(
                Reason.ASSERTION_UNAVAILABLE, f"KMS could not certify the assertion key: {exc!r}"[:500]
            ) from None
        return _Key(private, f"{b64url(certificate)}.{b64url(signature)}", float(expires))


def kms_certifier(key_id: str, timeout: float) -> Certifier:
    """A Certifier that calls KMS Sign (boto3 imported on first use; ``AWS_ENDPOINT_URL_KMS`` points botocore
    at a local KMS)."""
    clients: list[Any] = []

    def certify(message: bytes) -> bytes:
        if not clients:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 2})
            clients.append(boto3.client("kms", config=config))
        answer = clients[0].sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
        return bytes(answer["Signature"])

    return certify
