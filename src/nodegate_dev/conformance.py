"""NIST PKITS conformance: each test through the authorizer's own certificate steps, with a table per section.

Per test the truststore is the PKITS trust anchor plus the test's CA certificates, the CRL store is a folder
holding the test's CRLs, and REVOCATION_MODE is ``require``: the same runtime the Lambda builds."""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nodegate_authorizer.certificates import load_leaf_pem
from nodegate_authorizer.chain import PathPolicy
from nodegate_authorizer.decision import validate_certificate
from nodegate_authorizer.policies import ANY_POLICY, PolicyInputs
from nodegate_authorizer.reasons import Denied
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import load_settings

CASES = Path(__file__).resolve().parents[2] / "tests" / "conformance" / "pkits_cases.json"
VALIDATION_TIME = datetime(2026, 1, 1, tzinfo=UTC)
"""A fixed time inside every PKITS validity window (certificates and CRLs run 2010-2030)."""
DEVIATIONS = {
    "4.1.4": "refuse_weak_crypto: DSA key, SHA-1 signature",
    "4.1.5": "refuse_weak_crypto: DSA key with inherited parameters (does not even parse in cryptography)",
    "4.6.8": "refuse_ca_leaf: the end certificate is a CA",
    "4.6.14": "refuse_ca_leaf: the end certificate is a CA",
    "4.8.6": "refuse_ca_leaf: the end certificate is a CA",
    "4.14.13": "refuse_ca_leaf: the end certificate is a CA",
}
"""Valid PKITS paths that nodegate refuses on purpose, with the PathPolicy rule that refuses them."""


@dataclass(frozen=True)
class Result:
    """One PKITS test: what it expects and what nodegate decided."""

    test: str
    variant: str
    expected_valid: bool
    allowed: bool
    reason: str
    detail: str

    @property
    def correct(self) -> bool:
        return self.allowed == self.expected_valid

    @property
    def wrong_allow(self) -> bool:
        return self.allowed and not self.expected_valid


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    """The PKITS test table (facts from PKITS.pdf)."""
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


def _policy(settings: dict[str, Any], *, strict: bool = True) -> PathPolicy:
    return PathPolicy(
        refuse_ca_leaf=strict,
        refuse_weak_crypto=strict,
        policies=PolicyInputs(
            initial_policy_set=frozenset(settings.get("user_initial_policy_set", [ANY_POLICY])),
            initial_explicit_policy=settings.get("initial_explicit_policy", False),
            initial_policy_mapping_inhibit=settings.get("initial_policy_mapping_inhibit", False),
            initial_any_policy_inhibit=settings.get("initial_any_policy_inhibit", False),
        ),
    )


def run_case(case: dict[str, Any], data: Path, now: datetime = VALIDATION_TIME, *, strict: bool = True) -> Result:
    """Decide one PKITS test through the production runtime (path and revocation steps).

    ``strict=False`` turns the two deliberate deviations off, to show that each listed test is refused by
    its rule alone."""
    certs = data / "certs"
    allowed, reason, detail = decide(
        [(certs / f"{name}.crt").read_bytes() for name in ["TrustAnchorRootCertificate", *case["certs"]]],
        {name: (data / "crls" / f"{name}.crl").read_bytes() for name in case["crls"]},
        (certs / f"{case['ee']}.crt").read_bytes(),
        now,
        _policy(case.get("settings", {}), strict=strict),
    )
    return Result(case["test"], case.get("variant", ""), case["valid"], allowed, reason, detail)


def decide(
    truststore: list[bytes], crls: dict[str, bytes], leaf: bytes, now: datetime, policy: PathPolicy
) -> tuple[bool, str, str]:
    """(allowed, reason, detail) for the DER ``leaf`` through the production runtime: a file:// truststore of
    the DER certificates, a file:// CRL store of the DER CRLs, ``REVOCATION_MODE=require``, at ``now``."""
    with tempfile.TemporaryDirectory(prefix="nodegate-conformance-") as folder:
        work = Path(folder)
        (work / "truststore.pem").write_text("".join(ssl.DER_cert_to_PEM_cert(der) for der in truststore))
        (work / "crls").mkdir()
        for name, der in crls.items():
            (work / "crls" / f"{name}.crl").write_bytes(der)
        settings = load_settings(
            {
                "TRUSTSTORE_URI": (work / "truststore.pem").as_uri(),
                "CRL_STORE_URI": (work / "crls").as_uri(),
                "REVOCATION_MODE": "require",
                "FETCH_TIMEOUT_SECONDS": "0.2",
            }
        )
        inputs = build_runtime(settings, policy).inputs()
        try:
            _, revocation = validate_certificate(load_leaf_pem(ssl.DER_cert_to_PEM_cert(leaf)), inputs, now)
            if revocation.refusal:
                raise Denied(*revocation.refusal)
        except Denied as denied:
            return False, denied.reason.value, denied.detail
        except ValueError as exc:
            return False, "MALFORMED_CERT", str(exc)
    return True, "allow", ""


def certvalidator_allows(anchor: bytes, others: list[bytes], crls: list[bytes], leaf: bytes, now: datetime) -> bool:
    """The second implementation: pyhanko-certvalidator on the same DER inputs, ``revocation_mode="require"``,
    no fetching (a test-only dependency)."""
    import asyncio

    import asn1crypto.x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    context = ValidationContext(
        trust_roots=[asn1crypto.x509.Certificate.load(anchor)],
        other_certs=[asn1crypto.x509.Certificate.load(der) for der in others],
        crls=crls,
        revocation_mode="require",
        moment=now,
        allow_fetching=False,
    )
    validator = CertificateValidator(asn1crypto.x509.Certificate.load(leaf), validation_context=context)
    try:
        asyncio.run(validator.async_validate_usage(set()))  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - any refusal of the second implementation counts as a refusal
        return False
    return True


def run_all(data: Path, cases: Iterable[dict[str, Any]] | None = None) -> list[Result]:
    """Every test of the table."""
    return [run_case(case, data) for case in (cases if cases is not None else load_cases())]


def section_table(results: list[Result]) -> str:
    """A Markdown table per PKITS section: tests, correct, wrong Allows, wrong Denies, deliberate deviations."""
    rows: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        rows[".".join(result.test.split(".")[:2])].append(result)
    lines = [
        "| section | tests | correct | wrong Allow | wrong Deny | deliberate deviations |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for section in sorted(rows, key=lambda s: [int(p) for p in s.split(".")]):
        group = rows[section]
        deviations = sorted({r.test for r in group if not r.correct and r.test in DEVIATIONS})
        lines.append(
            f"| {section} | {len(group)} | {sum(r.correct for r in group)} | {sum(r.wrong_allow for r in group)} "
            f"| {sum(not r.correct and not r.wrong_allow for r in group)} | {', '.join(deviations) or '-'} |"
        )
    total = len(results)
    lines.append(
        f"| all | {total} | {sum(r.correct for r in results)} | {sum(r.wrong_allow for r in results)} "
        f"| {sum(not r.correct and not r.wrong_allow for r in results)} | {len(DEVIATIONS)} listed |"
    )
    return "\n".join(lines)


def extract(wheels: Path, destination: Path) -> int:
    """Copy PKITS certs/ and crls/ out of the newest cryptography-vectors wheel in ``wheels``; return the count."""
    prefix = "cryptography_vectors/x509/PKITS_data/"
    wheel = sorted(wheels.glob("cryptography_vectors-*.whl"))[-1]
    count = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            relative = name[len(prefix) :]
            if name.startswith(prefix) and relative.startswith(("certs/", "crls/")) and not name.endswith("/"):
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
                count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Run PKITS, print the tables and every wrong decision; exit 1 on any wrong Allow or unlisted wrong Deny."""
    parser = argparse.ArgumentParser(prog="python -m nodegate_dev.conformance", description=__doc__)
    parser.add_argument("pkits_data", type=Path, help="the PKITS_data folder (from the cryptography-vectors wheel)")
    parser.add_argument("--extract", type=Path, metavar="WHEELS", help="first extract PKITS_data from the wheel here")
    args = parser.parse_args(argv)
    if args.extract:
        print(f"extracted {extract(args.extract, args.pkits_data)} PKITS files into {args.pkits_data}")
        return 0
    warnings.filterwarnings("ignore", message=".*serial number which wasn't positive.*")  # PKITS 4.4.14 on purpose
    results = run_all(args.pkits_data)
    default = [r for r in results if not r.variant]
    print("NIST PKITS, default settings (REVOCATION_MODE=require)\n")
    print(section_table(default))
    print("\nNIST PKITS, policy-setting variants\n")
    print(section_table([r for r in results if r.variant]))
    wrong = [r for r in results if not r.correct]
    for r in wrong:
        kind = "WRONG ALLOW" if r.wrong_allow else "deviation" if r.test in DEVIATIONS else "WRONG DENY"
        print(f"{kind}: {r.test} {r.variant} -> {r.reason}: {r.detail[:300]}")
    unlisted = [r for r in wrong if r.wrong_allow or r.test not in DEVIATIONS]
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
