"""Publish a truststore: check the bundle as API Gateway would, upload it, point the stack at the new version."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from nodegate_authorizer.certificates import is_ca, issued_by, load_pem_bundle

MAX_DEPTH = 4


def check_bundle(data: bytes, now: datetime) -> list[str]:
    """Problems that would make API Gateway (or nodegate) reject the bundle; empty when it is fine."""
    try:
        certs = load_pem_bundle(data)
    except ValueError as exc:
        return [f"not a PEM certificate bundle: {exc}"]
    problems = []
    for cert in certs:
        label = cert.subject.rfc4514_string()
        if not is_ca(cert):
            problems.append(f"{label}: not a CA certificate (basicConstraints CA:TRUE missing)")
        if cert.not_valid_after_utc < now:
            problems.append(f"{label}: expired at {cert.not_valid_after_utc.isoformat()}")
        depth = _depth(cert, certs)
        if depth is None:
            problems.append(f"{label}: its issuer {cert.issuer.rfc4514_string()} is not in the bundle")
        elif depth > MAX_DEPTH:
            problems.append(f"{label}: chain depth {depth} exceeds {MAX_DEPTH}")
    if not any(c.subject == c.issuer for c in certs):
        problems.append("no self-signed root CA in the bundle")
    return problems


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


SAMCONFIG = Path(__file__).resolve().parents[2] / "samconfig.toml"


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


def publish(bundle: Path, *, stack: str, key: str, region: str | None, profile: str | None, check_only: bool) -> int:
    """Check the bundle, upload it, and point the stack at the new object version."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise PublishError(f"cannot read the bundle {bundle}: {exc.strerror}") from None
    problems = check_bundle(data, datetime.now(UTC))
    if problems:
        print("truststore rejected:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"{bundle}: {len(load_pem_bundle(data))} CA certificate(s), OK")
    if check_only:
        return 0
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    try:
        session = boto3.Session(profile_name=profile, region_name=region or samconfig_region())
        cloudformation = session.client("cloudformation")
        bucket = stack_bucket(cloudformation, stack)
        version = upload(session.client("s3"), bucket, key, data)
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
    parser.add_argument("--check-only", action="store_true", help="only check the bundle, as API Gateway would")
