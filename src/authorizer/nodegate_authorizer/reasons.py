"""Reason codes carried by every Deny, and the exception that carries them."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a request was denied; returned in the authorizer context as ``reason``."""

    NO_CLIENT_CERT = "NO_CLIENT_CERT"
    MALFORMED_CERT = "MALFORMED_CERT"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    INVALID_CHAIN = "INVALID_CHAIN"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"
    WEAK_CRYPTO = "WEAK_CRYPTO"
    REVOKED = "REVOKED"
    REVOCATION_UNAVAILABLE = "REVOCATION_UNAVAILABLE"
    BAD_IDENTITY = "BAD_IDENTITY"
    AMBIGUOUS_IDENTITY = "AMBIGUOUS_IDENTITY"
    NODE_MISMATCH = "NODE_MISMATCH"
    POLICY_DENIED = "POLICY_DENIED"
    POLICY_UNAVAILABLE = "POLICY_UNAVAILABLE"
    TRUSTSTORE_UNAVAILABLE = "TRUSTSTORE_UNAVAILABLE"
    CONFIG_INVALID = "CONFIG_INVALID"
    ASSERTION_UNAVAILABLE = "ASSERTION_UNAVAILABLE"
    BAD_REQUEST = "BAD_REQUEST"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Denied(Exception):
    """A decision step refused the request; ``reason`` goes to the client, ``detail`` to the log."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
