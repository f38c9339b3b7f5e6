"""Verifies the authorizer's signed assertion (``X-Nodegate-Assertion``): the only thing the node believes.

The format is ``C.K.B.S`` (base64url, no padding; made by ``nodegate_authorizer.assertion``): ``C`` a JSON key
certificate ``{"v", "kid", "pub", "exp"}`` signed by the stack's KMS key (``K``, ECDSA P-256 SHA-256, DER), and
``B`` the JSON claims ``{"v", "rid", "iat", "exp", "method", "path", "node", "user", "sub"}`` signed by the
certified key (``S``). Another REST API in the account can reach the NLB through the VPC link, but cannot make
``K``: only the authorizer's role may sign with the KMS key. Runs on the node's Python 3.9 with the
distribution's ``cryptography`` (no newer API than 3.1)."""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodegate_node.json_text import parse_json

HEADER = "X-Nodegate-Assertion"
MAX_LENGTH = 8192
MAX_LIFETIME = 60
MAX_KEY_LIFETIME = 6 * 3600
"""A key certificate that expires further ahead than this is refused (the authorizer certifies keys for 6 h), so
one stray kms:Sign cannot make a lasting forging key."""
"""An assertion whose expiry is further than this after its issue time is refused (the authorizer uses 30 s)."""
CLOCK_SKEW = 5
"""Seconds of clock difference allowed between the authorizer and the node (both use Amazon Time Sync)."""
MAX_REQUEST_IDS = 200_000
"""Request ids remembered at once (inside their expiry); beyond that the node refuses rather than forgets."""
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class Refused(Exception):
    """The request carries no assertion valid for it; the message says why (for the 401 body)."""


def load_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """The KMS key's public key from PEM or base64 DER (``aws kms get-public-key --query PublicKey``)."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
    else:
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the assertion key must be an ECC_NIST_P256 public key")
    return key


def _decode(part: str) -> bytes:
    if not BASE64URL.fullmatch(part) or len(part) % 4 == 1:
        raise Refused("malformed assertion")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _object(data: bytes) -> dict[str, Any]:
    try:
        value = parse_json(data, "assertion")
    except ValueError:
        raise Refused("malformed assertion") from None
    if not isinstance(value, dict) or value.get("v") != 1:
        raise Refused("unsupported assertion")
    return value


def _verify(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes, what: str) -> None:
    try:
        key.verify(signature, data, ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        raise Refused(f"{what} signature is not valid") from None


class AssertionVerifier:
    """Checks assertions against the KMS public key; remembers request ids until their assertions expire."""

    def __init__(self, kms_key: ec.EllipticCurvePublicKey, clock: Callable[[], float] = time.time) -> None:
        self.kms_key = kms_key
        self.clock = clock
        self._keys: dict[tuple[str, str], tuple[ec.EllipticCurvePublicKey, float]] = {}
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, header: list[str], method: str, path: str) -> dict[str, str]:
        """The identity the assertion grants for ``method`` on ``path``; raise Refused otherwise."""
        if len(header) != 1:
            raise Refused(f"exactly one {HEADER} header is required")
        token = header[0]
        parts = token.split(".")
        if len(token) > MAX_LENGTH or len(parts) != 4:
            raise Refused("malformed assertion")
        now = self.clock()
        signer = self._certified_key(parts[0], parts[1], now)
        body = _decode(parts[2])
        _verify(signer, _decode(parts[3]), body, "assertion")
        claims = _object(body)
        fields = ("rid", "method", "path", "node", "user")
        if not all(isinstance(claims.get(name), str) and claims[name] for name in fields):
            raise Refused("assertion lacks a claim")
        rule = claims.get("rule", "default")  # an authorizer without identity rules sends none
        if not isinstance(claims.get("sub"), str) or not isinstance(rule, str) or not rule:
            raise Refused("assertion lacks a claim")  # "sub" may be empty: an SVID's subject often is
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int) or not isinstance(expires, int) or not 0 < expires - issued <= MAX_LIFETIME:
            raise Refused("assertion has no valid lifetime")
        if issued > now + CLOCK_SKEW or expires + CLOCK_SKEW <= now:
            raise Refused("assertion expired or not yet valid")
        if claims["method"] != method or unquote(claims["path"]) != unquote(path):
            raise Refused("assertion is for another request")
        node = path.strip("/").split("/")
        if len(node) < 2 or node[0] != "nodes" or node[1] != claims["node"]:
            raise Refused("assertion is for another node")
        self._first_use(claims["rid"], expires + CLOCK_SKEW, now)
        return {"subject": claims["sub"], "userId": claims["user"], "nodeId": claims["node"], "identityRule": rule}

    def _certified_key(self, certificate: str, signature: str, now: float) -> ec.EllipticCurvePublicKey:
        """The ephemeral key certified by the KMS key (verified once per certificate, then cached)."""
        cached = self._keys.get((certificate, signature))
        if cached is None:
            data = _decode(certificate)
            _verify(self.kms_key, _decode(signature), data, "key certificate")
            fields = _object(data)
            try:
                key = serialization.load_der_public_key(base64.b64decode(fields["pub"], validate=True))
            except (KeyError, TypeError, ValueError, binascii.Error):
                raise Refused("key certificate has no usable key") from None
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(fields.get("exp"), int):
                raise Refused("key certificate has no usable key")
            cached = (key, float(fields["exp"]))
            with self._lock:
                if len(self._keys) >= 64:
                    self._keys.clear()
                self._keys[(certificate, signature)] = cached
        if cached[1] + CLOCK_SKEW <= now:
            raise Refused("key certificate expired")
        if cached[1] - now > MAX_KEY_LIFETIME + CLOCK_SKEW:
            raise Refused("key certificate lives longer than the authorizer certifies keys")
        return cached[0]

    def _first_use(self, request_id: str, until: float, now: float) -> None:
        """Remember ``request_id`` until ``until``; raise Refused when it was seen before."""
        with self._lock:
            while self._seen:
                oldest, expiry = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[oldest]
            if request_id in self._seen:
                raise Refused("assertion was already used (replay)")
            if len(self._seen) >= MAX_REQUEST_IDS:
                raise Refused("too many assertions in flight")
            self._seen[request_id] = until
