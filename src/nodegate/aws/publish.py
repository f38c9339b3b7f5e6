"""Publish a truststore: check the bundle as API Gateway and the authorizer would, show what changes from the
published bundle, test sample client certificates against it, ask, upload it, point the stack at the new version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from nodegate_authorizer.certificates import issued_by, load_certificate, load_leaf_pem, pem_blocks, sha256_hex
from nodegate_authorizer.chain import PathPolicy, build_path
from nodegate_authorizer.reasons import Denied
from nodegate_authorizer.truststore import Truststore, TruststoreError, parse_truststore

MAX_DEPTH = 4
EXPIRY_WARNING = timedelta(days=30)


def bundle_certificates(data: bytes) -> list[x509.Certificate]:
    """The entries of a PEM bundle that parse, in order (parse_truststore names the others)."""
    certs = []
    for block in pem_blocks(data):
        try:
            certs.append(load_certificate(block))
        except ValueError:
            continue
    return certs


def check_bundle(data: bytes, now: datetime, samples: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Problems that would make API Gateway or the authorizer reject or skip part of the bundle, and sample
    client certificates ``(name, PEM)`` that would not chain to it; empty when it is fine. Every entry the
    authorizer's own parse_truststore would skip is a problem: a published bundle must be used whole."""
    if not pem_blocks(data):
        return ["not a PEM certificate bundle: no PEM certificate block"]
    certs = bundle_certificates(data)
    problems = []
    for cert in certs:
        label = cert.subject.rfc4514_string()
        if cert.not_valid_after_utc < now:
            problems.append(f"{label}: expired at {cert.not_valid_after_utc.isoformat()}")
        if cert.not_valid_before_utc > now:
            start = cert.not_valid_before_utc.isoformat()
            problems.append(f"{label}: not valid before {start} (its clients would be refused until then)")
        depth = _depth(cert, certs)
        if depth is None:
            problems.append(f"{label}: its issuer {cert.issuer.rfc4514_string()} is not in the bundle")
        elif depth > MAX_DEPTH:
            problems.append(f"{label}: chain depth {depth} exceeds {MAX_DEPTH}")
    try:
        truststore = parse_truststore(data)
    except TruststoreError as exc:
        return [*problems, f"no self-signed root CA in the bundle: {exc}"]
    problems += [f"the authorizer would skip {entry}" for entry in truststore.skipped]
    problems += [
        f"sample {name}: {problem}" for name, pem in samples if (problem := sample_problem(pem, truststore, now))
    ]
    return problems


def expiry_warnings(data: bytes, now: datetime) -> list[str]:
    """Certificates of the bundle that expire within EXPIRY_WARNING (still valid: publishing is allowed)."""
    return [
        f"{cert.subject.rfc4514_string()}: expires {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC, "
        f"in {(cert.not_valid_after_utc - now).days} day(s)"
        for cert in bundle_certificates(data)
        if now <= cert.not_valid_after_utc < now + EXPIRY_WARNING
    ]


def sample_problem(pem: str, truststore: Truststore, now: datetime) -> str | None:
    """Why a sample client certificate would have no valid path to the bundle (the authorizer's own path
    building, revocation aside), or None when it has one."""
    try:
        build_path(load_leaf_pem(pem), truststore, now, PathPolicy())
    except ValueError as exc:
        return f"not a certificate: {exc}"
    except Denied as denied:
        return f"{denied.reason.value}: {denied.detail}"
    return None


def difference(old: bytes, new: bytes) -> list[str]:
    """Lines naming the certificates (SHA-256 fingerprint and subject) added to and removed from a bundle."""
    before = {sha256_hex(c): c for c in bundle_certificates(old)}
    after = {sha256_hex(c): c for c in bundle_certificates(new)}
    lines = [f"+ {f} {after[f].subject.rfc4514_string()}" for f in sorted(after.keys() - before.keys())]
    lines += [f"- {f} {before[f].subject.rfc4514_string()}" for f in sorted(before.keys() - after.keys())]
    return [*lines, f"  {len(after.keys() & before.keys())} certificate(s) unchanged"]


def _depth(cert: x509.Certificate, certs: list[x509.Certificate]) -> int | None:
    """Certificates from ``cert`` up to a self-signed root (1 for a root), or None when the chain breaks."""
    depth, current = 1, cert
    while current.subject != current.issuer:
        parent = next((c for c in certs if c is not current and issued_by(current, c)), None)
        if parent is None or depth > len(certs):
            return None
        depth, current = depth + 1, parent
    return depth


class PublishError(Exception):
    """The truststore cannot be published; the message says why and what to do."""


def published_bundle(cloudformation: Any, s3: Any, stack: str, bucket: str) -> bytes:
    """The bundle the stack points at now (TruststoreKey at TruststoreVersion), or b"" before the first one."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described["Parameters"]}
    key, version = parameters.get("TruststoreKey", ""), parameters.get("TruststoreVersion", "")
    if not key or not version:
        return b""
    return bytes(s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read())


def confirm(question: str, ask: Callable[[str], str] = input) -> bool:
    """Whether the operator answers yes (anything else, an empty line included, is no)."""
    return ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def stack_bucket(cloudformation: Any, stack: str) -> str:
    """The stack's TruststoreBucketName output."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "TruststoreBucketName":
            return str(output["OutputValue"])
    raise PublishError(f"stack {stack} has no TruststoreBucketName output: is it a nodegate stack?")


def upload(s3: Any, bucket: str, key: str, data: bytes) -> str:
    """Upload the bundle; return its S3 version id (the bucket is versioned)."""
    version = s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-pem-file").get("VersionId")
    if not version or version == "null":
        raise PublishError(f"s3://{bucket} is not versioned: the custom domain needs a truststore version")
    return str(version)


def point_stack_at(cloudformation: Any, stack: str, key: str, version: str) -> None:
    """Update only TruststoreKey and TruststoreVersion, keeping the template and every other parameter."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    new = {"TruststoreKey": key, "TruststoreVersion": version}
    known = {p["ParameterKey"] for p in described["Parameters"]}
    missing = sorted(set(new) - known)
    if missing:
        raise PublishError(f"stack {stack} has no parameter {', '.join(missing)}: is it a nodegate stack?")
    parameters = [
        {"ParameterKey": name, "ParameterValue": new[name]}
        if name in new
        else {"ParameterKey": name, "UsePreviousValue": True}
        for name in (p["ParameterKey"] for p in described["Parameters"])
    ]
    cloudformation.update_stack(
        StackName=stack,
        UsePreviousTemplate=True,
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 5})


SAMCONFIG = Path(__file__).resolve().parents[3] / "samconfig.toml"


def samconfig_region(path: Path = SAMCONFIG) -> str | None:
    """The region `sam deploy` uses, from samconfig.toml's default deploy parameters."""
    import tomllib

    if not path.is_file():
        return None
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError:
        return None
    region = config.get("default", {}).get("deploy", {}).get("parameters", {}).get("region")
    return str(region) if region else None


def publish(
    bundle: Path,
    *,
    stack: str,
    key: str,
    region: str | None,
    profile: str | None,
    check_only: bool,
    yes: bool = False,
    samples: Sequence[Path] = (),
) -> int:
    """Check the bundle (and the sample client certificates against it), show the difference from the
    published one, ask, upload it, and point the stack at the new object version."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise PublishError(f"cannot read the bundle {bundle}: {exc.strerror}") from None
    try:
        pems = [(str(path), path.read_text(errors="replace")) for path in samples]
    except OSError as exc:
        raise PublishError(f"cannot read the sample certificate {exc.filename}: {exc.strerror}") from None
    now = datetime.now(UTC)
    problems = check_bundle(data, now, pems)
    if problems:
        print("truststore rejected:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    for warning in expiry_warnings(data, now):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{bundle}: {len(bundle_certificates(data))} certificate(s), OK"
        + (f"; {len(pems)} sample(s) chain to it" if pems else "")
    )
    if check_only:
        return 0
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    try:
        session = boto3.Session(profile_name=profile, region_name=region or samconfig_region())
        cloudformation = session.client("cloudformation")
        s3 = session.client("s3")
        bucket = stack_bucket(cloudformation, stack)
        print(
            f"difference from the bundle stack {stack} uses now:\n  "
            + "\n  ".join(difference(published_bundle(cloudformation, s3, stack, bucket), data))
        )
        if not yes and not sys.stdin.isatty():
            raise PublishError("no terminal to confirm on: check the difference above and run again with --yes")
        if not yes and not confirm(f"publish {bundle} as s3://{bucket}/{key} and update stack {stack}?"):
            print("not published")
            return 1
        version = upload(s3, bucket, key, data)
        print(f"uploaded s3://{bucket}/{key} version {version}; updating stack {stack}")
        point_stack_at(cloudformation, stack, key, version)
    except (BotoCoreError, ClientError, WaiterError) as exc:
        raise PublishError(str(exc)) from None
    print(f"stack updated: the custom domain and the authorizer now use {key} version {version}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``nodegate publish-truststore`` (and scripts/publish-truststore)."""
    parser.add_argument(
        "--bundle", required=True, type=Path, help="PEM bundle of CA certificates (relative paths are fine)"
    )
    parser.add_argument("--stack", default="nodegate", help="the deployed stack")
    parser.add_argument(
        "--key", default="truststore.pem", help="object key in the truststore bucket (sets TruststoreKey)"
    )
    parser.add_argument("--region", help="AWS region (default: samconfig.toml's deploy region)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument(
        "--check-only", action="store_true", help="only check the bundle, as API Gateway and the authorizer would"
    )
    parser.add_argument("--yes", action="store_true", help="publish without asking (for scripts)")
    parser.add_argument(
        "--test-client",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="a client certificate that must chain to the new bundle (repeatable); refuse to publish otherwise",
    )
