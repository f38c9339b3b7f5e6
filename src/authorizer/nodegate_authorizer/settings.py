"""Authorizer settings, parsed and checked from environment variables."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple, TypeVar
from urllib.parse import unquote

from cryptography import x509

from .identity import ATTRIBUTE_OIDS

E = TypeVar("E", bound=StrEnum)
DEFAULT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class RevocationMode(StrEnum):
    """How missing revocation answers are treated (a revoked answer always denies)."""

    REQUIRE = "require"
    HARD_FAIL = "hard-fail"
    SOFT_FAIL = "soft-fail"
    OFF = "off"


class RevocationFetch(StrEnum):
    """Where revocation answers may come from on the request path."""

    ON = "on"
    """CRL distribution points and OCSP responders are fetched when the caches hold no fresh answer."""
    STORE_ONLY = "store-only"
    """Only the CRL store and cached answers: no fetch on the request path (an authorizer without egress,
    with the CRL mirror filling the store)."""


class ConfigError(ValueError):
    """A setting is missing or invalid; every request is denied until it is fixed."""


class Settings(NamedTuple):
    """Every knob of the authorizer, with the defaults used when a variable is unset."""

    truststore_uri: str
    truststore_version: str | None = None
    truststore_refresh_seconds: float = 300.0
    crl_store_uri: str | None = None
    crl_store_refresh_seconds: float = 300.0
    access_policy_uri: str | None = None
    access_policy_version: str | None = None
    access_policy_refresh_seconds: float = 300.0
    source_max_stale_seconds: float = 3600.0
    revocation_mode: RevocationMode = RevocationMode.HARD_FAIL
    revocation_fetch: RevocationFetch = RevocationFetch.ON
    fetch_timeout_seconds: float = 1.5
    fetch_max_bytes: int = 128 * 1024 * 1024
    """A 4M-entry CRL is ~100 MB; what a 512 MB function can read and search (bench/results.md)."""
    fetch_allowed_networks: tuple[str, ...] = ()
    revocation_cache_seconds: float = 300.0
    revocation_retry_seconds: float = 30.0
    ocsp_max_age_seconds: float = 3600.0
    clock_skew_seconds: float = 60.0
    user_id_attribute: str = "UID"
    node_id_attribute: str = "CN"
    id_pattern: str = DEFAULT_ID_PATTERN
    assertion_key_id: str | None = None


_KMS_KEY = re.compile(
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]{1,256}|[0-9a-f-]{36}|alias/[A-Za-z0-9/_-]{1,250})$"
)
_URI = re.compile(r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*|file:///.*)$")
_FLOATS = {
    "TRUSTSTORE_REFRESH_SECONDS": ("truststore_refresh_seconds", 0.0, 86400.0),
    "CRL_STORE_REFRESH_SECONDS": ("crl_store_refresh_seconds", 0.0, 86400.0),
    "ACCESS_POLICY_REFRESH_SECONDS": ("access_policy_refresh_seconds", 0.0, 86400.0),
    "SOURCE_MAX_STALE_SECONDS": ("source_max_stale_seconds", 0.0, 7 * 86400.0),
    "FETCH_TIMEOUT_SECONDS": ("fetch_timeout_seconds", 0.05, 10.0),
    "REVOCATION_CACHE_SECONDS": ("revocation_cache_seconds", 0.0, 7 * 86400.0),
    "REVOCATION_RETRY_SECONDS": ("revocation_retry_seconds", 0.0, 3600.0),
    "OCSP_MAX_AGE_SECONDS": ("ocsp_max_age_seconds", 1.0, 7 * 86400.0),
    "CLOCK_SKEW_SECONDS": ("clock_skew_seconds", 0.0, 3600.0),
}
SETTING_NAMES = (
    "TRUSTSTORE_URI",
    "TRUSTSTORE_VERSION",
    "CRL_STORE_URI",
    "ACCESS_POLICY_URI",
    "ACCESS_POLICY_VERSION",
    "REVOCATION_MODE",
    "REVOCATION_FETCH",
    "FETCH_MAX_BYTES",
    "USER_ID_ATTRIBUTE",
    "NODE_ID_ATTRIBUTE",
    "ID_PATTERN",
    "FETCH_ALLOWED_NETWORKS",
    "ASSERTION_KEY_ID",
    *_FLOATS,
)
"""Every environment variable load_settings reads."""


def _uri(env: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise ConfigError(f"{name} is required (s3://bucket/key or file:///path)")
        return None
    if not _URI.match(value):
        raise ConfigError(f"{name}={value!r} is not an s3://bucket/key or file:///path URI")
    if "\x00" in unquote(value):
        raise ConfigError(f"{name}={value!r} holds a NUL (%00): no object or file has such a name")
    return value


def _choice(env: Mapping[str, str], name: str, default: E) -> E:
    """The member of ``default``'s enum that ``env[name]`` names (``default`` when unset)."""
    kind = type(default)
    raw = env.get(name, "").strip() or default.value
    try:
        return kind(raw)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ConfigError(f"{name}={raw!r} is not one of: {choices}") from None


def _dotted_oid(raw: str) -> bool:
    """True when ``raw`` is an OID ``cryptography`` accepts (X.660: first arc 0-2, second below 40 under 0 and 1)."""
    if not re.fullmatch(r"[0-2](\.[0-9]{1,20}){1,30}", raw):
        return False
    try:
        x509.ObjectIdentifier(raw)
    except ValueError:
        return False
    return True


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build Settings from ``env``; raise ConfigError naming the first bad variable."""
    values: dict[str, object] = {
        "truststore_uri": _uri(env, "TRUSTSTORE_URI", required=True),
        "truststore_version": env.get("TRUSTSTORE_VERSION", "").strip() or None,
        "crl_store_uri": _uri(env, "CRL_STORE_URI"),
        "access_policy_uri": _uri(env, "ACCESS_POLICY_URI"),
        "access_policy_version": env.get("ACCESS_POLICY_VERSION", "").strip() or None,
    }
    values["revocation_mode"] = _choice(env, "REVOCATION_MODE", RevocationMode.HARD_FAIL)
    values["revocation_fetch"] = _choice(env, "REVOCATION_FETCH", RevocationFetch.ON)
    for name, (field, low, high) in _FLOATS.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not low <= number <= high:
            raise ConfigError(f"{name}={raw} is outside {low}..{high}")
        values[field] = number
    raw_max = env.get("FETCH_MAX_BYTES", "").strip()
    if raw_max:
        if not re.fullmatch(r"[0-9]{1,10}", raw_max) or not 1024 <= int(raw_max) <= 256 * 1024 * 1024:
            raise ConfigError(f"FETCH_MAX_BYTES={raw_max!r} must be an integer in 1024..268435456")
        values["fetch_max_bytes"] = int(raw_max)
    for name, field in (("USER_ID_ATTRIBUTE", "user_id_attribute"), ("NODE_ID_ATTRIBUTE", "node_id_attribute")):
        raw = env.get(name, "").strip()
        if raw:
            if raw not in ATTRIBUTE_OIDS and not _dotted_oid(raw):
                raise ConfigError(f"{name}={raw!r} is not one of {sorted(ATTRIBUTE_OIDS)} or a dotted OID")
            values[field] = raw
    networks = [item.strip() for item in env.get("FETCH_ALLOWED_NETWORKS", "").split(",") if item.strip()]
    for network in networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise ConfigError(f"FETCH_ALLOWED_NETWORKS entry {network!r} is not a CIDR network") from None
    values["fetch_allowed_networks"] = tuple(networks)
    pattern = env.get("ID_PATTERN", "").strip()
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"ID_PATTERN is not a valid regular expression: {exc}") from None
        values["id_pattern"] = pattern
    key_id = env.get("ASSERTION_KEY_ID", "").strip()
    if key_id:
        if not _KMS_KEY.match(key_id):
            raise ConfigError(f"ASSERTION_KEY_ID={key_id[:300]!r} is not a KMS key id, key ARN or alias")
        values["assertion_key_id"] = key_id
    return Settings(**values)  # type: ignore[arg-type]
