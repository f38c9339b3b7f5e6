"""The warm container's state: truststore, CRL store, access policy and revocation caches, built from Settings."""

from __future__ import annotations

import ipaddress
import re
from functools import partial
from typing import NamedTuple

from .access_policy import DEFAULT_POLICY, AccessPolicy, PolicyError, parse_policy
from .assertion import AssertionSigner, kms_certifier
from .chain import PathPolicy
from .decision import DecisionInputs
from .identity import IdentityRule
from .reasons import Denied, Reason
from .revocation.checker import RevocationChecker
from .revocation.store import EMPTY_STORE, CrlStore, load_crl_store
from .settings import Settings
from .sources.blobs import BlobError
from .sources.refresh import Refreshing, blob_loader
from .truststore import Truststore, TruststoreError, parse_truststore


class Runtime(NamedTuple):
    """Long-lived sources for one Settings; ``inputs()`` gives a decision what it needs right now."""

    settings: Settings
    truststore: Refreshing[Truststore]
    crl_store: Refreshing[CrlStore] | None
    access_policy: Refreshing[AccessPolicy] | None
    revocation: RevocationChecker
    identity_rule: IdentityRule
    path_policy: PathPolicy
    signer: AssertionSigner | None = None
    """Signs the assertion each Allow carries to the node (None: ASSERTION_KEY_ID unset, no assertion)."""

    def inputs(self) -> DecisionInputs:
        """Current inputs; raise Denied when the truststore or the policy cannot be had."""
        try:
            truststore = self.truststore.get()
        except (BlobError, TruststoreError) as exc:
            raise Denied(Reason.TRUSTSTORE_UNAVAILABLE, str(exc)) from None
        try:
            policy = self.access_policy.get() if self.access_policy else DEFAULT_POLICY
        except (BlobError, PolicyError) as exc:
            raise Denied(Reason.POLICY_UNAVAILABLE, f"access policy unusable, denying all: {exc}") from None
        return DecisionInputs(truststore, self.path_policy, self.identity_rule, policy, self.revocation.check)

    def forget(self) -> None:
        """Make what a SnapStart snapshot froze current again: every source is read again on next use (no stale
        value to fall back on), the revocation caches are emptied and the assertion key is dropped."""
        for source in (self.truststore, self.crl_store, self.access_policy):
            if source is not None:
                source.forget()
        self.revocation.forget()
        if self.signer is not None:
            self.signer.forget()

    def load(self) -> None:
        """Read every source now (truststore, access policy, CRL store); raise Denied or the source's error."""
        self.inputs()
        if self.crl_store is not None:
            self.crl_store.get()


def _snapshot(crl_store: Refreshing[CrlStore] | None) -> CrlStore:
    """The stored CRLs; an unreadable store is marked unavailable, so its certificates cannot pass hard-fail."""
    if crl_store is None:
        return EMPTY_STORE
    try:
        return crl_store.get()
    except BlobError as exc:
        return CrlStore(unavailable=f"CRL store unreadable: {exc}")


def identity_rule_of(settings: Settings) -> IdentityRule:
    """The default identity rule ``settings`` name: USER_ID_ATTRIBUTE, NODE_ID_ATTRIBUTE and ID_PATTERN."""
    return IdentityRule(settings.user_id_attribute, settings.node_id_attribute, re.compile(settings.id_pattern))


def build_runtime(settings: Settings, path_policy: PathPolicy | None = None) -> Runtime:
    """Wire sources, caches and fetchers for ``settings`` (no I/O happens here); ``path_policy`` (the default
    profile unless given) rules the path and the revocation step alike (CRL signer paths, weak CRLs)."""
    timeout, cap = settings.fetch_timeout_seconds, settings.fetch_max_bytes
    rule = identity_rule_of(settings)

    load_truststore = blob_loader(
        settings.truststore_uri, parse_truststore, version=settings.truststore_version, timeout=timeout, max_bytes=cap
    )

    def load_crls(previous: tuple[str, CrlStore] | None) -> tuple[str, CrlStore]:
        assert settings.crl_store_uri is not None
        store = load_crl_store(
            settings.crl_store_uri, previous[1] if previous else None, timeout=timeout, max_bytes=cap
        )
        return "", store

    stale = settings.source_max_stale_seconds
    crl_store = Refreshing(load_crls, settings.crl_store_refresh_seconds, stale) if settings.crl_store_uri else None
    policy = None
    if settings.access_policy_uri:
        load_policy = blob_loader(
            settings.access_policy_uri,
            partial(parse_policy, rule=rule),
            version=settings.access_policy_version,
            timeout=timeout,
            max_bytes=cap,
        )
        policy = Refreshing(load_policy, settings.access_policy_refresh_seconds, stale)
    allowed = tuple(ipaddress.ip_network(network) for network in settings.fetch_allowed_networks)
    fetch = partial(_fetch, timeout=timeout, max_bytes=cap, allowed_networks=allowed)
    path_policy = path_policy or PathPolicy()
    return Runtime(
        settings=settings,
        truststore=Refreshing(load_truststore, settings.truststore_refresh_seconds, stale),
        crl_store=crl_store,
        access_policy=policy,
        revocation=RevocationChecker(settings, fetch, partial(_snapshot, crl_store), path_policy),
        identity_rule=rule,
        path_policy=path_policy,
        signer=AssertionSigner(key, kms_certifier(key, timeout)) if (key := settings.assertion_key_id) else None,
    )


def _fetch(
    url: str,
    body: bytes | None,
    *,
    timeout: float,
    max_bytes: int,
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> bytes:
    from .sources.http import fetch_url  # http.client costs ~20 ms of cold start; only needed on a fetch

    content_type = "application/ocsp-request" if body is not None else ""
    return fetch_url(
        url,
        body=body,
        content_type=content_type,
        timeout=timeout,
        max_bytes=max_bytes,
        allowed_networks=allowed_networks,
    )
