"""Publish a truststore: check the bundle as API Gateway and the authorizer would, show what changes from the
published bundle, test sample client certificates against it, ask, upload it, point the stack at the new version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509

from nodegate.aws.session import AwsError, open_session
from nodegate.pki.bundle import foreign_blocks, public_bundle
from nodegate_authorizer.access_policy import AccessPolicy, PolicyError, parse_policy
from nodegate_authorizer.certificates import issued_by, load_certificate, load_leaf_pem, pem_blocks, sha256_hex
from nodegate_authorizer.chain import PathPolicy, build_path
from nodegate_authorizer.identity import IdentityRule
from nodegate_authorizer.identity_rules import binding_problems, identify
from nodegate_authorizer.reasons import Denied
from nodegate_authorizer.truststore import Truststore, TruststoreError, parse_truststore

MAX_DEPTH = 4
VERSION_PARAMETER = "TruststoreVersionParameter"
NOT_PUBLISHED = "none"  # the SSM parameter's value before the first publish (SSM values cannot be empty)
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


def check_bundle(
    data: bytes, now: datetime, samples: Sequence[tuple[str, str]] = (), policy: Policy | None = None
) -> list[str]:
    """Problems that would make API Gateway or the authorizer reject or skip part of the bundle, and sample
    client certificates ``(name, PEM)`` that would not chain to it; empty when it is fine. Every entry the
    authorizer's own parse_truststore would skip is a problem: a published bundle must be used whole. So is
    every PEM block that is not a certificate (a private key above all): the truststore bucket is public. With
    the access policy in force, so is an identity rule that selects no CA of the bundle or is ambiguous, and a
    sample that would get no identity."""
    problems = foreign_blocks(data)
    if not pem_blocks(data):
        return [*problems, "not a PEM certificate bundle: no PEM certificate block"]
    certs = bundle_certificates(data)
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
    rules = policy.access.identity_rules if policy else None
    if rules:
        problems += [f"identity rules of the access policy: {line}" for line in binding_problems(rules, truststore)]
    problems += [
        f"sample {name}: {problem}"
        for name, pem in samples
        if (problem := sample_problem(pem, truststore, now, policy))
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


def sample_problem(pem: str, truststore: Truststore, now: datetime, policy: Policy | None = None) -> str | None:
    """Why a sample client certificate would have no valid path to the bundle (the authorizer's own path
    building, revocation aside), or, under the access policy's identity rules, no identity; None when it has
    both."""
    try:
        leaf = load_leaf_pem(pem)
        path = build_path(leaf, truststore, now, PathPolicy())
        if policy and policy.access.identity_rules:
            identify(leaf, path[1], policy.access.identity_rules, policy.id_rule, truststore)
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


class Policy(NamedTuple):
    """An access policy as the authorizer reads it, with the default identity rule it was read under."""

    access: AccessPolicy
    id_rule: IdentityRule


def read_policy(path: Path) -> Policy:
    """The access policy file, parsed as the authorizer parses it with its default id settings; PublishError
    names the file when it is unreadable or unusable."""
    from nodegate_authorizer.runtime import identity_rule_of
    from nodegate_authorizer.settings import load_settings

    id_rule = identity_rule_of(load_settings({"TRUSTSTORE_URI": "s3://bucket/key"}))
    try:
        return Policy(parse_policy(path.read_bytes(), id_rule), id_rule)
    except OSError as exc:
        raise PublishError(f"cannot read the access policy {path}: {exc.strerror}") from None
    except PolicyError as exc:
        raise PublishError(f"{path}: not a usable access policy ({exc}); see README, Access policy") from None


class PublishError(Exception):
    """The truststore cannot be published; the message says why and what to do."""


@dataclass(frozen=True)
class StackTruststore:
    """Where a stack reads its truststore: the bucket, the key, the SSM parameter holding the object version,
    and the version the stack resolved from it on its last create or update ("" before the first publish)."""

    bucket: str
    key: str
    parameter: str
    version: str


def stack_truststore(cloudformation: Any, stack: str) -> StackTruststore:
    """The stack's truststore location, from its TruststoreBucketName output and its parameters."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p for p in described.get("Parameters", [])}
    if "TruststoreBucketName" not in outputs or "TruststoreKey" not in parameters:
        raise PublishError(f"stack {stack} has no TruststoreBucketName output: is it a nodegate stack?")
    if VERSION_PARAMETER not in parameters:
        raise PublishError(
            f"stack {stack} has no parameter {VERSION_PARAMETER}: deploy the current template.yaml first (make deploy)"
        )
    resolved = str(parameters[VERSION_PARAMETER].get("ResolvedValue", NOT_PUBLISHED))
    return StackTruststore(
        bucket=outputs["TruststoreBucketName"],
        key=str(parameters["TruststoreKey"].get("ParameterValue", "")),
        parameter=str(parameters[VERSION_PARAMETER].get("ParameterValue", "")),
        version="" if resolved == NOT_PUBLISHED else resolved,
    )


def published_bundle(s3: Any, current: StackTruststore) -> bytes:
    """The bundle the stack uses now (its key at its resolved version), or b"" before the first publish."""
    if not current.version:
        return b""
    return bytes(s3.get_object(Bucket=current.bucket, Key=current.key, VersionId=current.version)["Body"].read())


def confirm(question: str, ask: Callable[[str], str] = input) -> bool:
    """Whether the operator answers yes (anything else, an empty line included, is no)."""
    return ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def upload(s3: Any, bucket: str, key: str, data: bytes) -> str:
    """Upload the bundle; return its S3 version id (the bucket is versioned)."""
    version = s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-pem-file").get("VersionId")
    if not version or version == "null":
        raise PublishError(f"s3://{bucket} is not versioned: the custom domain needs a truststore version")
    return str(version)


def point_stack_at(cloudformation: Any, ssm: Any, stack: str, current: StackTruststore, version: str) -> None:
    """Write the new version into the stack's SSM parameter, then update the stack with its own template and
    every parameter's previous value: CloudFormation re-reads SSM parameter types on each update, so the
    custom domain and the authorizer move to ``version`` and nothing else changes."""
    ssm.put_parameter(Name=current.parameter, Value=version, Type="String", Overwrite=True)
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        cloudformation.update_stack(
            StackName=stack,
            UsePreviousTemplate=True,
            Parameters=[{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in described["Parameters"]],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        cloudformation.get_waiter("stack_update_complete").wait(StackName=stack, WaiterConfig={"Delay": 5})
    except Exception:
        # The stack kept (or rolled back to) the old version: so does the parameter, or the next deploy would
        # take up the version the stack refused.
        previous = current.version or NOT_PUBLISHED
        ssm.put_parameter(Name=current.parameter, Value=previous, Type="String", Overwrite=True)
        raise
    resolved = stack_truststore(cloudformation, stack).version
    if resolved != version:
        raise PublishError(f"stack {stack} resolved {current.parameter} to {resolved or NOT_PUBLISHED}, not {version}")


def publish(
    bundle: Path,
    *,
    stack: str,
    region: str | None,
    profile: str | None,
    check_only: bool,
    yes: bool = False,
    samples: Sequence[Path] = (),
    policy: Path | None = None,
) -> int:
    """Check the bundle (and the sample client certificates and the access policy's identity rules against it),
    show the difference from the published one, ask, upload it, and point the stack at the new object version."""
    try:
        data = bundle.read_bytes()
    except OSError as exc:
        raise PublishError(f"cannot read the bundle {bundle}: {exc.strerror}") from None
    try:
        pems = [(str(path), path.read_text(errors="replace")) for path in samples]
    except OSError as exc:
        raise PublishError(f"cannot read the sample certificate {exc.filename}: {exc.strerror}") from None
    now = datetime.now(UTC)
    problems = check_bundle(data, now, pems, read_policy(policy) if policy else None)
    if problems:
        print("truststore rejected:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    data = public_bundle(data, str(bundle))  # what was checked, re-encoded: nothing else is uploaded
    for warning in expiry_warnings(data, now):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{bundle}: {len(bundle_certificates(data))} certificate(s), OK"
        + (f"; {len(pems)} sample(s) chain to it" if pems else "")
    )
    if check_only:
        return 0
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
    from botocore.parsers import ResponseParserError

    try:
        session = open_session(region, profile)
        cloudformation = session.client("cloudformation")
        s3 = session.client("s3")
        ssm = session.client("ssm")
        current = stack_truststore(cloudformation, stack)
        print(
            f"difference from the bundle stack {stack} uses now:\n  "
            + "\n  ".join(difference(published_bundle(s3, current), data))
        )
        target = f"s3://{current.bucket}/{current.key}"
        if not yes and not sys.stdin.isatty():
            raise PublishError("no terminal to confirm on: check the difference above and run again with --yes")
        if not yes and not confirm(f"publish {bundle} as {target} and update stack {stack}?"):
            print("not published")
            return 1
        version = upload(s3, current.bucket, current.key, data)
        print(f"uploaded {target} version {version}; writing it to {current.parameter} and updating stack {stack}")
        point_stack_at(cloudformation, ssm, stack, current, version)
    except (BotoCoreError, ClientError, WaiterError, ResponseParserError, AwsError) as exc:
        raise PublishError(str(exc)) from None
    print(f"stack updated: the custom domain and the authorizer now use {target} version {version}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``nodegate publish-truststore`` (and scripts/publish-truststore)."""
    parser.add_argument(
        "--bundle", required=True, type=Path, help="PEM bundle of CA certificates (relative paths are fine)"
    )
    parser.add_argument("--stack", default="nodegate", help="the deployed stack")
    parser.add_argument("--region", help="AWS region (default: samconfig.toml's deploy region)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument(
        "--check-only", action="store_true", help="only check the bundle, as API Gateway and the authorizer would"
    )
    parser.add_argument("--yes", action="store_true", help="publish without asking (for scripts)")
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="JSON",
        help="the access policy in force (ACCESS_POLICY_URI): refuse a bundle its identity rules do not bind 1:1",
    )
    parser.add_argument(
        "--test-client",
        action="append",
        default=[],
        type=Path,
        metavar="PEM",
        help="a client certificate that must chain to the new bundle (repeatable); refuse to publish otherwise",
    )
