"""Pre-flight: what `sam deploy` would only find out after creating resources, checked before anything is created.
Each check is a pure rule over what AWS describes (``*_problems``); ``preflight`` gathers the descriptions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nodegate.aws.publish import NOT_PUBLISHED
from nodegate.aws.session import AwsError, arn_region, error_code, one_line

PLACEHOLDER = "REPLACE_ME"
REQUIRED = ("DomainName", "CertificateArn", "NodeAmiId", "PublisherRoleArn", "DeployRoleArn")
ARM64_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
VPC_QUOTA = ("vpc", "L-F678F1CE")  # VPCs per Region
LAMBDA_UNRESERVED_MINIMUM = 100  # Lambda keeps this much of the account's concurrency unreserved
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # a Number parameter's value: an integer or a decimal fraction


@dataclass(frozen=True)
class Check:
    """One check: its name, what was found, and its problems, each with its fix (none when it passed)."""

    name: str
    found: str
    problems: tuple[str, ...] = ()


def parameter_problems(parameters: Mapping[str, str], declared: Mapping[str, Any]) -> list[str]:
    """Parameters with no value, still the samconfig.toml placeholder, not declared by the template, or breaking
    the constraints the template declares for them (what CloudFormation would refuse the deploy for)."""
    missing = [name for name in REQUIRED if not parameters.get(name)]
    placeholders = [name for name, value in parameters.items() if PLACEHOLDER in value]
    fix = "set it in samconfig.toml's parameter_overrides"
    problems = [f"{name} has no value: {fix}" for name in missing] + [
        f"{name} is still a placeholder ({parameters[name]}): {fix}" for name in placeholders
    ]
    for name, value in parameters.items():
        if name in missing or name in placeholders:
            continue
        if name not in declared:
            problems.append(f"{name} is not a parameter of template.yaml: remove it from parameter_overrides")
        elif broken := constraint_problem(value, declared[name]):
            problems.append(f"{name}={value!r} {broken}: {fix}")
    return problems


def constraint_problem(value: str, declared: Mapping[str, Any]) -> str | None:
    """How ``value`` breaks a template parameter's declared constraints (CloudFormation's Parameters section:
    Type Number, AllowedValues, AllowedPattern, MinValue/MaxValue, MinLength/MaxLength), or None."""
    allowed = [str(v) for v in declared.get("AllowedValues", [])]
    if declared.get("Type") == "Number":
        if not NUMBER.fullmatch(value):  # float() would take nan, inf, 1_0 and spaces
            return "is not a number"
        number = float(value)
        if allowed and not any(float(v) == number for v in allowed):
            return f"is not one of {', '.join(allowed)}"
        if "MinValue" in declared and number < float(declared["MinValue"]):
            return f"is below the minimum {declared['MinValue']}"
        if "MaxValue" in declared and number > float(declared["MaxValue"]):
            return f"is above the maximum {declared['MaxValue']}"
        return None
    if allowed and value not in allowed:
        return f"is not one of {', '.join(allowed)}"
    pattern = declared.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), value):
        return f"does not match {pattern}"
    if len(value) < int(declared.get("MinLength", 0)) or len(value) > int(declared.get("MaxLength", len(value))):
        return "has a length the template does not allow"
    return None


def covers(name: str, domain: str) -> bool:
    """Whether a certificate name covers ``domain`` (RFC 6125 6.4.3, as ACM issues names): a ``*`` only as the
    whole left-most label, standing for exactly one label; case-insensitive, a trailing dot ignored."""
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    if not name.startswith("*."):
        return "*" not in name and name == domain
    label, _, parent = domain.partition(".")
    return bool(label) and "*" not in name[2:] and parent == name[2:] and "." in parent


def certificate_problems(certificate: Mapping[str, Any], domain: str, ownership_arn: str) -> list[str]:
    """An ACM certificate (DescribeCertificate's ``Certificate``) that API Gateway would refuse for ``domain``."""
    arn, status = certificate.get("CertificateArn", ""), certificate.get("Status", "")
    problems = []
    if status == "PENDING_VALIDATION":
        problems.append(
            f"{arn} is PENDING_VALIDATION: create the DNS record ACM lists (aws acm describe-certificate "
            f"--certificate-arn {arn} --query Certificate.DomainValidationOptions) and wait for ISSUED"
        )
    elif status != "ISSUED":
        problems.append(f"{arn} is {status or 'of unknown status'}: request a new certificate for {domain}")
    names = [certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])]
    if not any(covers(name, domain) for name in names if name):
        listed = ", ".join(sorted({n for n in names if n})) or "no name"
        problems.append(f"{arn} covers {listed}, not {domain}: request a certificate for {domain}")
    kind = certificate.get("Type", "")
    if kind in ("IMPORTED", "PRIVATE") and not ownership_arn:
        problems.append(
            f"{arn} is {kind}: API Gateway mutual TLS then needs OwnershipVerificationCertificateArn, "
            f"a public ACM certificate for {domain}"
        )
    return problems


def image_problems(image: Mapping[str, Any] | None, ami: str, region: str) -> list[str]:
    """An AMI (DescribeImages' entry, None when not found) the arm64 nodes cannot boot."""
    lookup = f"aws ssm get-parameter --region {region} --name {ARM64_AMI} --query Parameter.Value"
    if image is None:
        return [f"NodeAmiId {ami} is not an image in {region} (AMI ids differ per region): use `{lookup}`"]
    problems = []
    if image.get("Architecture") != "arm64":
        problems.append(f"NodeAmiId {ami} is {image.get('Architecture')}, the nodes run arm64: use `{lookup}`")
    if image.get("State", "available") != "available":
        problems.append(f"NodeAmiId {ami} is {image.get('State')}: use `{lookup}`")
    return problems


def instance_type_problems(offered: Mapping[str, Any] | None, instance_type: str, region: str) -> list[str]:
    """A NodeInstanceType (DescribeInstanceTypes' entry, None when not offered) that cannot run an arm64 image."""
    if offered is None:
        return [f"NodeInstanceType {instance_type} is not offered in {region}: pick one of the t4g family"]
    architectures = offered.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    if "arm64" not in architectures:
        return [
            f"NodeInstanceType {instance_type} runs {', '.join(architectures)}, not arm64: use t4g.nano or t4g.small"
        ]
    return []


def vpc_quota_problems(in_use: int, quota: float) -> list[str]:
    """The stack creates one VPC."""
    if in_use + 1 <= quota:
        return []
    return [
        f"{in_use} of {quota:g} VPCs per region are in use and the stack creates one: delete one or raise the "
        f"quota (Service Quotas, {VPC_QUOTA[0]} {VPC_QUOTA[1]})"
    ]


def concurrency_problems(unreserved: int, already_reserved: int, reserve: int) -> list[str]:
    """AuthorizerConcurrency must leave Lambda's 100 unreserved executions (the stack's own reservation, if it is
    deployed, comes back first)."""
    left = unreserved + already_reserved - reserve
    if reserve <= 0 or left >= LAMBDA_UNRESERVED_MINIMUM:
        return []
    return [
        f"AuthorizerConcurrency={reserve} would leave {left} unreserved concurrent executions, Lambda keeps "
        f"{LAMBDA_UNRESERVED_MINIMUM}: pass AuthorizerConcurrency=0 or raise the Lambda concurrency quota"
    ]


def private_ca_problems(ca: Mapping[str, Any], bucket: str, path: str) -> list[str]:
    """A Private CA (DescribeCertificateAuthority's entry) whose CRLs the authorizer would not find where the
    stack reads them: with REVOCATION_MODE=hard-fail its operators would all be denied REVOCATION_UNAVAILABLE."""
    arn, status = ca.get("Arn", ""), ca.get("Status", "")
    problems = [] if status == "ACTIVE" else [f"{arn} is {status}: install its CA certificate and activate it"]
    crl = ca.get("RevocationConfiguration", {}).get("CrlConfiguration", {})
    if not crl.get("Enabled"):
        return [*problems, f"{arn} writes no CRL: enable its CrlConfiguration with S3BucketName={bucket}"]
    written = crl.get("S3BucketName", "")
    if written != bucket:
        problems.append(f"{arn} writes its CRLs to bucket {written}: set PrivateCaCrlBucket={written}")
    folder = crl.get("CustomPath") or "crl"
    if folder.strip("/") != path.strip("/"):
        problems.append(f"{arn} writes its CRLs under {folder}/: set PrivateCaCrlPath={folder}")
    return problems


def truststore_version_problems(parameter: str, value: str | None, newest: str | None, location: str) -> list[str]:
    """The truststore-version parameter must name the newest object version at ``location`` (only the publisher
    may write objects there, so the newest is authentic), or be ``none`` when no object exists: anything else
    was written outside publish-truststore and the deploy would roll the truststore back or delete the custom
    domain's truststore (``none``)."""
    if value is None:
        put = f"aws ssm put-parameter --name {parameter} --type String --value none"
        return [f"no SSM parameter {parameter}: create it (`{put}`, README, Deploy step 3)"]
    if value == (newest or NOT_PUBLISHED):
        return []
    if newest is None:
        return [f"{parameter} holds {value} but {location} has no object: set it to none (nothing is published)"]
    restore = f"aws ssm put-parameter --name {parameter} --type String --overwrite --value {newest}"
    return [
        f"{parameter} holds {value}, not the newest version {newest} of {location}: it was written outside "
        f"publish-truststore (a rollback or tampering); check who wrote it (CloudTrail), then `{restore}`"
    ]


def preflight(session: Any, stack: str, parameters: Mapping[str, str], declared: Mapping[str, Any]) -> list[Check]:
    """Every check, in the order a deploy meets them; stops after the credentials when there are none.
    ``declared`` is template.yaml's Parameters section."""
    from botocore.exceptions import BotoCoreError, ClientError

    region = session.region_name
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        fix = "configure credentials (aws configure, AWS_PROFILE or --profile)"
        return [Check("credentials", region, (f"{one_line(exc)}: {fix}",))]
    checks = [Check("credentials", f"account {account}, region {region}")]
    checks.append(Check("parameters", f"{len(parameters)} set", tuple(parameter_problems(parameters, declared))))
    steps: list[tuple[str, Callable[[], tuple[str, list[str]]]]] = [
        ("certificate", lambda: _certificate(session, parameters, region)),
        ("domain", lambda: _domain(session, stack, parameters.get("DomainName", ""))),
        ("image", lambda: _image(session, parameters, region)),
        ("quotas", lambda: _quotas(session, stack, parameters)),
        ("truststore", lambda: _truststore(session, stack, parameters)),
    ]
    if parameters.get("PrivateCaArn"):
        steps.append(("private-ca", lambda: _private_ca(session, parameters)))
    for name, step in steps:
        try:
            found, problems = step()
        except (BotoCoreError, ClientError, AwsError) as exc:
            found, problems = "", [f"cannot check: {one_line(exc)}"]
        checks.append(Check(name, found, tuple(problems)))
    return checks


def _certificate(session: Any, parameters: Mapping[str, str], region: str) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    arn, domain = parameters.get("CertificateArn", ""), parameters.get("DomainName", "")
    if arn_region(arn) != region:
        where = arn_region(arn) or "no region"
        return arn, [f"CertificateArn is in {where}, the stack deploys to {region}: use a certificate in {region}"]
    try:
        certificate = session.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as exc:
        if error_code(exc) not in ("ResourceNotFoundException", "ValidationException"):
            raise
        return arn, [f"no certificate {arn} in this account: request one for {domain} (README, Deploy)"]
    ownership = parameters.get("OwnershipVerificationCertificateArn", "")
    return f"{arn} {certificate.get('Status')}", certificate_problems(certificate, domain, ownership)


def _domain(session: Any, stack: str, domain: str) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    try:
        session.client("apigateway").get_domain_name(domainName=domain)
    except ClientError as exc:
        if error_code(exc) != "NotFoundException":
            raise
        return f"{domain} is free", []
    try:
        resource = session.client("cloudformation").describe_stack_resource(
            StackName=stack, LogicalResourceId="ApiDomain"
        )
    except ClientError as exc:
        if error_code(exc) != "ValidationError":
            raise
        resource = {}
    if resource.get("StackResourceDetail", {}).get("PhysicalResourceId") == domain:
        return f"{domain} belongs to stack {stack}", []
    return domain, [
        f"API Gateway domain {domain} already exists outside stack {stack}: delete it "
        f"(aws apigateway delete-domain-name --domain-name {domain}) or choose another DomainName"
    ]


def _image(session: Any, parameters: Mapping[str, str], region: str) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    ec2 = session.client("ec2")
    ami, instance_type = parameters.get("NodeAmiId", ""), parameters.get("NodeInstanceType", "")
    try:
        images = ec2.describe_images(ImageIds=[ami])["Images"]
    except ClientError as exc:
        if not error_code(exc).startswith("InvalidAMIID"):
            raise
        images = []
    try:
        offered = ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"]
    except ClientError as exc:
        if error_code(exc) != "InvalidInstanceType":
            raise
        offered = []
    image = images[0] if images else None
    problems = image_problems(image, ami, region)
    problems += instance_type_problems(offered[0] if offered else None, instance_type, region)
    return f"{ami} ({image.get('Architecture') if image else 'not found'}) on {instance_type}", problems


def _private_ca(session: Any, parameters: Mapping[str, str]) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    arn = parameters["PrivateCaArn"]
    try:
        ca = session.client("acm-pca").describe_certificate_authority(CertificateAuthorityArn=arn)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return arn, [f"no Private CA {arn} in {session.region_name}: check PrivateCaArn (and the region)"]
    bucket, path = parameters.get("PrivateCaCrlBucket", ""), parameters.get("PrivateCaCrlPath", "crl")
    return f"{arn} CRLs in s3://{bucket}/{path}/", private_ca_problems(ca["CertificateAuthority"], bucket, path)


def _quotas(session: Any, stack: str, parameters: Mapping[str, str]) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    quota = session.client("service-quotas").get_service_quota(ServiceCode=VPC_QUOTA[0], QuotaCode=VPC_QUOTA[1])
    limit = float(quota["Quota"]["Value"])
    vpcs = len(session.client("ec2").describe_vpcs()["Vpcs"])
    problems = vpc_quota_problems(vpcs, limit)
    reserve = _whole(parameters.get("AuthorizerConcurrency", ""))  # a bad value is a parameters problem
    if reserve > 0:
        aws_lambda = session.client("lambda")
        unreserved = int(aws_lambda.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"])
        try:
            current = aws_lambda.get_function_concurrency(FunctionName=f"{stack}-authorizer")
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            current = {}
        problems += concurrency_problems(unreserved, int(current.get("ReservedConcurrentExecutions", 0)), reserve)
    return f"VPCs {vpcs}/{limit:g}, AuthorizerConcurrency {reserve}", problems


def _truststore(session: Any, stack: str, parameters: Mapping[str, str]) -> tuple[str, list[str]]:
    from botocore.exceptions import ClientError

    parameter, key = parameters.get("TruststoreVersionParameter", ""), parameters.get("TruststoreKey", "")
    try:
        value = str(session.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        value = None
    try:
        described = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if error_code(exc) != "ValidationError":
            raise
        described = {}  # not deployed yet: no bucket, so no object
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in described.get("Outputs", [])}
    bucket = outputs.get("TruststoreBucketName", "")
    newest = _newest_version(session.client("s3"), bucket, key) if bucket else None
    location = f"s3://{bucket}/{key}" if bucket else f"stack {stack}'s bucket (not created yet)"
    return f"{parameter} = {value} ({location})", truststore_version_problems(parameter, value, newest, location)


def _newest_version(s3: Any, bucket: str, key: str) -> str | None:
    """The id of the newest object version (a delete marker aside) under exactly ``key``, or None."""
    versions = [
        version
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        for version in page.get("Versions", [])
        if version["Key"] == key
    ]
    if not versions:
        return None
    newest = next((v for v in versions if v.get("IsLatest")), max(versions, key=lambda v: v["LastModified"]))
    return str(newest["VersionId"])


def _whole(value: str) -> int:
    """A Number parameter's value as an int; 0 when it is not one (the parameters check names it)."""
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return 0
