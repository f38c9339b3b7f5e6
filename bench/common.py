"""Shared bench fixtures: the test world's real PKI and CRL/OCSP server, and the candidate validators."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from nodegate_dev.world import World, event

ROOT = Path(__file__).resolve().parent.parent


def new_world() -> World:
    """A fresh PKI with a live CRL/OCSP server on 127.0.0.1."""
    return World(Path(tempfile.mkdtemp(prefix="nodegate-bench-")))


def use_env(env: dict[str, str]) -> None:
    """Replace the authorizer's settings in os.environ."""
    for key in [k for k in os.environ if k.startswith(("TRUSTSTORE_", "CRL_STORE", "REVOCATION_", "ACCESS_POLICY"))]:
        del os.environ[key]
    os.environ.update(env)
    from nodegate_authorizer.handler import reset

    reset()  # the handler reads its environment once per process


def timed(fn: Callable[[], Any], count: int) -> list[float]:
    """Per-call durations in milliseconds."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def nodegate_decision(leaf_pem: bytes, node: str = "node-1") -> str:
    """Our authorizer, through lambda_handler (uses whatever env is set)."""
    from nodegate_authorizer.handler import lambda_handler

    response = lambda_handler(event(leaf_pem, node))
    statement = response["policyDocument"]["Statement"][0]
    return "Allow" if statement["Effect"] == "Allow" else f"Deny {response['context']['reason']}"


def pyhanko_decision(
    leaf_pem: bytes, roots: list[x509.Certificate], others: list[x509.Certificate], crls: list[bytes], mode: str
) -> str:
    """pyhanko-certvalidator with a fresh ValidationContext and live fetching (the seed design)."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    def to_asn1(cert: x509.Certificate) -> Any:
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    leaf = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(leaf_pem).public_bytes(serialization.Encoding.DER))
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    context = ValidationContext(
        trust_roots=[to_asn1(c) for c in roots],
        other_certs=[to_asn1(c) for c in others],
        crls=crls,
        allow_fetching=True,
        revocation_mode=mode,
        fetcher_backend=RequestsFetcherBackend(),
    )
    validator = CertificateValidator(leaf, intermediate_certs=[to_asn1(c) for c in others], validation_context=context)
    try:
        asyncio.run(validator.async_validate_path())
    except Exception as exc:  # noqa: BLE001 - any failure is a deny for the comparison
        return f"Deny {exc.__class__.__name__}"
    return "Allow"


def x509_verification_decision(leaf_pem: bytes, roots: list[x509.Certificate], others: list[x509.Certificate]) -> str:
    """cryptography's x509.verification client verifier (path only: it has no revocation checking)."""
    from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

    leaf = x509.load_pem_x509_certificate(leaf_pem)
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(dt.datetime.now(dt.UTC))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, others)
    except Exception as exc:  # noqa: BLE001 - any failure is a deny for the comparison
        return f"Deny {str(exc)[:50]}"
    return "Allow (path only)"
