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


def stack_bucket(cloudformation: Any, stack: str) -> str:
    """The stack's TruststoreBucketName output."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == "TruststoreBucketName"))


def upload(s3: Any, bucket: str, key: str, data: bytes) -> str:
    """Upload the bundle; return its S3 version id (the bucket is versioned)."""
    return str(s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-pem-file")["VersionId"])


def point_stack_at(cloudformation: Any, stack: str, version: str) -> None:
    """Update only TruststoreVersion, keeping the template and every other parameter as deployed."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    parameters = [
        {"ParameterKey": p["ParameterKey"], "ParameterValue": version}
        if p["ParameterKey"] == "TruststoreVersion"
        else {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
        for p in described["Parameters"]
    ]
    cloudformation.update_stack(
        StackName=stack,
        UsePreviousTemplate=True,
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)


def main(argv: list[str] | None = None) -> int:
    """``scripts/publish-truststore --stack NAME --bundle FILE [--key truststore.pem] [--check-only]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="nodegate")
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--key", default="truststore.pem")
    parser.add_argument("--check-only", action="store_true")
    args = parser.parse_args(argv)
    data = args.bundle.read_bytes()
    problems = check_bundle(data, datetime.now(UTC))
    if problems:
        print("truststore rejected:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"{args.bundle}: {len(load_pem_bundle(data))} CA certificate(s), OK")
    if args.check_only:
        return 0
    import boto3

    cloudformation = boto3.client("cloudformation")
    bucket = stack_bucket(cloudformation, args.stack)
    version = upload(boto3.client("s3"), bucket, args.key, data)
    print(f"uploaded s3://{bucket}/{args.key} version {version}; updating stack {args.stack}")
    point_stack_at(cloudformation, args.stack, version)
    print("stack updated: the custom domain and the authorizer now use this truststore version")
    return 0
