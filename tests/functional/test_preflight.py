"""`nodegate preflight` (issue 18 item 2): what a deploy would find out only after creating resources, checked
first, one line per failure with its fix. The rules run on what moto's ACM, EC2, API Gateway, STS and Service Quotas
describe; parameters come from a samconfig.toml read by the SAM CLI's own code; wildcard matching is checked
against pyca's RFC 6125 server-name verification."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import NODEGATE, ROOT
from nodegate.aws.preflight import concurrency_problems, covers, vpc_quota_problems
from nodegate.local.samlocal import read_template
from nodegate.pki.authority import CertificateAuthority, pem

ROOT_CA = CertificateAuthority.root("preflight truststore").cert

REGION = "eu-west-1"
DOMAIN = "nodes.example.com"

# ---------------------------------------------------------------- RFC 6125 6.4.3, against pyca's implementation
KEY = ec.generate_private_key(ec.SECP256R1())
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def pyca_covers(name: str, domain: str) -> bool:
    """Whether pyca's server verifier accepts a certificate whose only SAN is ``name`` for ``domain``."""
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "preflight CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(KEY.public_key()), critical=False)
        .sign(KEY, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(subject)
        .public_key(KEY.public_key())
        .serial_number(2)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(KEY.public_key()), critical=False)
        .sign(KEY, hashes.SHA256())
    )
    builder = PolicyBuilder().store(Store([ca])).time(NOW)
    try:
        builder.build_server_verifier(x509.DNSName(domain)).verify(leaf, [])
    except VerificationError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "domain", "expected"),
    [
        ("nodes.example.com", "nodes.example.com", True),
        ("NODES.example.com", "nodes.EXAMPLE.com", True),
        ("*.example.com", "nodes.example.com", True),
        ("*.example.com", "example.com", False),  # the wildcard stands for one label, never none
        ("*.example.com", "a.nodes.example.com", False),  # ... and never two
        ("*.nodes.example.com", "nodes.example.com", False),
        ("other.example.com", "nodes.example.com", False),
        ("nodes.*.com", "nodes.example.com", False),  # only the left-most label may be a wildcard
    ],
)
def test_certificate_names_cover_the_domain_as_rfc_6125_says(name: str, domain: str, expected: bool) -> None:
    assert covers(name, domain) is expected
    assert pyca_covers(name, domain) is expected


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    name=st.lists(LABEL, min_size=2, max_size=4).map(".".join),
    domain=st.lists(LABEL, min_size=2, max_size=4).map(".".join),
    wildcard=st.booleans(),
    share=st.integers(0, 3),
)
def test_covers_agrees_with_pycas_verifier(name: str, domain: str, wildcard: bool, share: int) -> None:
    """Names and domains that share a tail often, so wildcards meet one-label, two-label and no-label heads."""
    if share:
        domain = ".".join([*domain.split(".")[:share], *name.split(".")[1:]])
    if wildcard:
        name = "*." + name.split(".", 1)[1] if name.count(".") > 1 else name
    assert covers(name, domain) == pyca_covers(name, domain)


def test_quota_rules() -> None:
    assert vpc_quota_problems(4, 5.0) == []
    assert "5 of 5 VPCs per region are in use" in vpc_quota_problems(5, 5.0)[0]
    assert concurrency_problems(unreserved=1000, already_reserved=0, reserve=20) == []
    assert concurrency_problems(unreserved=10, already_reserved=0, reserve=0) == []
    # a new account: 10 concurrent executions in all, so reserving any leaves fewer than Lambda's 100
    assert "pass AuthorizerConcurrency=0" in concurrency_problems(unreserved=10, already_reserved=0, reserve=20)[0]
    # redeploying: the stack's own 20 come back before the new 20 are taken
    assert concurrency_problems(unreserved=100, already_reserved=20, reserve=20) == []


# ---------------------------------------------------------------- the command against moto
@pytest.fixture
def account(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An account in moto with an issued certificate for *.example.com, a pending one, one in another region, and
    an arm64 and an x86_64 image."""
    import uuid

    import boto3
    import moto.settings

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    acm = boto3.client("acm", region_name=REGION)
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)
    unique = uuid.uuid4().hex[:8]
    issued = acm.request_certificate(DomainName=f"*.{unique}.example.com", ValidationMethod="DNS")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=issued)["Certificate"]["Status"] == "ISSUED"
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    pending = acm.request_certificate(DomainName=f"nodes.{unique}.example.com")["CertificateArn"]
    elsewhere = boto3.client("acm", region_name="us-east-1").request_certificate(
        DomainName=f"nodes.{unique}.example.com"
    )["CertificateArn"]
    images = boto3.client("ec2", region_name=REGION).describe_images(Owners=["amazon"])["Images"]
    arm64 = next(i["ImageId"] for i in images if i.get("Architecture") == "arm64" and i.get("State") == "available")
    x86 = next(i["ImageId"] for i in images if i.get("Architecture") == "x86_64")
    ssm = boto3.client("ssm", region_name=REGION)  # README, Deploy step 3
    ssm.put_parameter(Name="/nodegate/truststore-version", Type="String", Value="none", Overwrite=True)
    return {
        "domain": f"nodes.{unique}.example.com",
        "issued": issued,
        "pending": pending,
        "elsewhere": elsewhere,
        "arm64": arm64,
        "x86": x86,
    }


SAMCONFIG = """version = 0.1
[default.global.parameters]
stack_name = "ng-preflight"

[default.deploy.parameters]
region = "{region}"
parameter_overrides = [
  "DomainName={domain}",          # as the README's samconfig.toml writes them
  "CertificateArn={certificate}",
  "NodeAmiId={image}",
  "PublisherRoleArn=arn:aws:iam::123456789012:role/publisher",
  "DeployRoleArn=arn:aws:iam::123456789012:role/deployer",
  "AuthorizerConcurrency=0",
]
"""


def preflight(tmp_path: Path, *extra: str, **values: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "samconfig.toml"
    config.write_text(SAMCONFIG.format(region=REGION, **values))
    return subprocess.run(
        [NODEGATE, "preflight", "--config-file", str(config), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fails(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith("FAIL")]


def test_a_ready_account_passes_every_check(tmp_path: Path, account: dict[str, str]) -> None:
    done = preflight(tmp_path, domain=account["domain"], certificate=account["issued"], image=account["arm64"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()[:-1]] == [
        f"ok    {name}"
        for name in ("credentials", "parameters", "certificate", "domain", "image", "quotas", "truststore")
    ]
    assert done.stdout.splitlines()[-1] == "preflight: ready to deploy (stack ng-preflight)"


def test_each_trap_is_one_line_with_its_fix(tmp_path: Path, account: dict[str, str]) -> None:
    import boto3

    deeper = f"a.{account['domain']}"  # *.<unique>.example.com does not cover two labels
    boto3.client("apigateway", region_name=REGION).create_domain_name(
        domainName=deeper, regionalCertificateArn=account["issued"], endpointConfiguration={"types": ["REGIONAL"]}
    )
    done = preflight(
        tmp_path,
        "--parameter-overrides",
        "NodeInstanceType=t3.micro",
        domain=deeper,
        certificate=account["pending"],
        image=account["x86"],
    )
    assert done.returncode == 1
    lines = fails(done)
    expected = [
        ("certificate", "is PENDING_VALIDATION: create the DNS record ACM lists"),
        ("certificate", f"not {deeper}: request a certificate for {deeper}"),
        ("domain", f"API Gateway domain {deeper} already exists outside stack ng-preflight: delete it"),
        ("image", f"NodeAmiId {account['x86']} is x86_64, the nodes run arm64: use `aws ssm get-parameter"),
        ("image", "NodeInstanceType t3.micro runs x86_64, not arm64: use t4g.nano or t4g.small"),
    ]
    assert len(lines) == len(expected), done.stdout
    for line, (check, text) in zip(lines, expected, strict=True):
        assert line.startswith(f"FAIL  {check}: "), line
        assert text in line, line
    assert done.stdout.splitlines()[-1] == "preflight: not ready: fix certificate, domain, image (stack ng-preflight)"


def test_a_certificate_of_another_region_an_unknown_image_and_placeholders(
    tmp_path: Path, account: dict[str, str]
) -> None:
    done = preflight(tmp_path, domain=account["domain"], certificate=account["elsewhere"], image="ami-REPLACE_ME")
    assert done.returncode == 1
    lines = fails(done)
    assert lines[0] == (
        "FAIL  parameters: NodeAmiId is still a placeholder (ami-REPLACE_ME): set it in samconfig.toml's "
        "parameter_overrides"
    )
    assert lines[1] == (
        f"FAIL  certificate: CertificateArn is in us-east-1, the stack deploys to {REGION}: use a certificate in "
        f"{REGION}"
    )
    assert lines[2].startswith(f"FAIL  image: NodeAmiId ami-REPLACE_ME is not an image in {REGION}")


def test_the_repository_samconfig_is_read_as_sam_reads_it(account: dict[str, str]) -> None:
    """The shipped samconfig.toml: SAM's own parser finds its placeholders, each named."""
    done = subprocess.run(
        [NODEGATE, "preflight", "--region", REGION], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    placeholders = [line.split(":")[1].split()[0] for line in fails(done) if line.startswith("FAIL  parameters")]
    text = (ROOT / "samconfig.toml").read_text()
    assert placeholders == re.findall(r'^\s*"(\w+)=[^"]*REPLACE_ME', text, re.MULTILINE)
    assert len(placeholders) >= 3


def test_no_credentials_is_one_line_and_stops(tmp_path: Path, account: dict[str, str]) -> None:
    bare: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    bare |= {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    bare |= {"AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run(
        [NODEGATE, "preflight", "--region", REGION], cwd=ROOT, env=bare, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert fails(done) == [
        "FAIL  credentials: Unable to locate credentials: configure credentials (aws configure, AWS_PROFILE or "
        "--profile)"
    ]


def test_the_vpc_quota(tmp_path: Path, account: dict[str, str]) -> None:
    import boto3

    ec2 = boto3.client("ec2", region_name="ap-south-1")  # a region of its own: the server lives for the session
    while len(ec2.describe_vpcs()["Vpcs"]) < 5:
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    done = preflight(tmp_path, "--region", "ap-south-1", domain="x", certificate="y", image="z")
    quota = [line for line in fails(done) if line.startswith("FAIL  quotas")]
    assert quota == [
        "FAIL  quotas: 5 of 5 VPCs per region are in use and the stack creates one: delete one or raise the quota "
        "(Service Quotas, vpc L-F678F1CE)"
    ]


def test_make_deploy_runs_preflight_before_sam_deploy() -> None:
    planned = subprocess.run(["make", "-n", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = planned.splitlines()
    preflight_at = next(i for i, line in enumerate(lines) if line.endswith("bin/nodegate preflight"))
    build_at = next(i for i, line in enumerate(lines) if "scripts/sam-build" in line)
    deploy_at = next(i for i, line in enumerate(lines) if line.endswith("bin/sam deploy"))
    assert preflight_at < build_at < deploy_at


def test_a_private_ca_whose_crls_the_authorizer_would_not_find(tmp_path: Path, account: dict[str, str]) -> None:
    """PrivateCaArn set: the CA must be ACTIVE and write its CRLs where PrivateCaCrlBucket/PrivateCaCrlPath say,
    or the authorizer's CRL store is empty and hard-fail denies every operator."""
    import boto3

    pca = boto3.client("acm-pca", region_name=REGION)
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": "operators CA"},
        },
        CertificateAuthorityType="ROOT",
        RevocationConfiguration={
            "CrlConfiguration": {"Enabled": True, "ExpirationInDays": 7, "S3BucketName": "pca", "CustomPath": "rev"}
        },
    )["CertificateAuthorityArn"]
    values = {"domain": account["domain"], "certificate": account["issued"], "image": account["arm64"]}
    wrong = preflight(tmp_path, "--parameter-overrides", f"PrivateCaArn={arn} PrivateCaCrlBucket=other", **values)
    assert [line for line in fails(wrong) if line.startswith("FAIL  private-ca")] == [
        f"FAIL  private-ca: {arn} is PENDING_CERTIFICATE: install its CA certificate and activate it",
        f"FAIL  private-ca: {arn} writes its CRLs to bucket pca: set PrivateCaCrlBucket=pca",
        f"FAIL  private-ca: {arn} writes its CRLs under rev/: set PrivateCaCrlPath=rev",
    ]
    pca.update_certificate_authority(CertificateAuthorityArn=arn, Status="ACTIVE")
    right = preflight(
        tmp_path, "--parameter-overrides", f"PrivateCaArn={arn} PrivateCaCrlBucket=pca PrivateCaCrlPath=rev", **values
    )
    assert right.returncode == 0, right.stdout
    assert f"ok    private-ca: {arn} CRLs in s3://pca/rev/" in right.stdout


# ---------------------------------------------------------------- review finding (LOW): bad input, one line each
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "DomainName=\\"x\n', "line 3"),
        ("version = 0.1\n[default.deploy.parameters\n", "samconfig.toml: "),
        (None, "no such file"),
    ],
)
def test_a_samconfig_that_cannot_be_read_is_one_error_line(tmp_path: Path, text: str | None, expected: str) -> None:
    """An unterminated string once ended in `TypeError: __str__ returned non-string (type FileParseException)`; a
    missing --config-file was read as empty. Each is one error line, exit 1 (the CLI's failure code)."""
    config = tmp_path / "samconfig.toml"
    if text is not None:
        config.write_text(text)
    done = subprocess.run(
        [NODEGATE, "preflight", "--config-file", str(config), "--region", REGION],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(f"nodegate preflight: error: {config}: "), done.stderr
    assert expected in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_parameters_the_template_would_refuse_are_parameter_problems(tmp_path: Path, account: dict[str, str]) -> None:
    """`AuthorizerConcurrency=abc` stopped preflight with "invalid literal for int()". Every value CloudFormation
    would refuse by the template's own constraints (and a name it does not declare) is one parameters line; the
    other checks still run."""
    overrides = "AuthorizerConcurrency=abc LogRetentionDays=7 RevocationMode=maybe NodeCount=0 Typo=1"
    done = preflight(
        tmp_path,
        "--parameter-overrides",
        overrides,
        domain=account["domain"],
        certificate=account["issued"],
        image=account["arm64"],
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert sorted(line for line in fails(done) if line.startswith("FAIL  parameters")) == sorted(
        [
            "FAIL  parameters: AuthorizerConcurrency='abc' is not a number: set it in samconfig.toml's "
            "parameter_overrides",
            "FAIL  parameters: RevocationMode='maybe' is not one of require, hard-fail, soft-fail, off: set it in "
            "samconfig.toml's parameter_overrides",
            "FAIL  parameters: LogRetentionDays='7' is not one of 90, 180, 365, 400, 545, 731, 1096, 1827, 2557, 3653: "
            "set it in samconfig.toml's parameter_overrides",
            "FAIL  parameters: NodeCount='0' is below the minimum 1: set it in samconfig.toml's parameter_overrides",
            "FAIL  parameters: Typo is not a parameter of template.yaml: remove it from parameter_overrides",
        ]
    )
    assert "ok    quotas" in done.stdout


DECLARED: dict[str, Any] = read_template()["Parameters"]


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(max_size=12), st.from_regex(r"-?[0-9]{1,11}(\.[0-9]{1,3})?", fullmatch=True)))
def test_every_declared_constraint_is_checked_as_cloudformation_would(value: str) -> None:
    """Each template parameter's constraint, for any value: a Number takes what parses as one, within its bounds;
    a String matches its AllowedPattern whole and is one of its AllowedValues."""
    from nodegate.aws.preflight import constraint_problem

    for name, declared in DECLARED.items():
        problem = constraint_problem(value, declared)
        if declared["Type"] == "Number":
            if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):  # nan, inf, 1_0, " 1" parse as floats
                assert problem == "is not a number", name
                continue
            number = float(value)
            assert (problem is None) == (
                number >= float(declared.get("MinValue", number))
                and number <= float(declared.get("MaxValue", number))
                and number in [float(v) for v in declared.get("AllowedValues", [number])]
            ), name
        else:
            pattern = declared.get("AllowedPattern")
            allowed = [str(v) for v in declared.get("AllowedValues", [value])]
            ok = value in allowed and (pattern is None or re.fullmatch(pattern, value) is not None)
            assert (problem is None) == ok, name


# ---------------------------------------------------------------- review finding (MEDIUM): the truststore version
def test_a_truststore_version_written_outside_publish_refuses_the_deploy(
    tmp_path: Path, account: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard SSM parameters take no resource policy: a PowerUser can write an older object version or `none`
    into the truststore-version parameter, and the next honest deploy rolls the truststore back or deletes the
    custom domain's. Preflight refuses unless it names the newest object version (only the publisher writes
    objects) or is `none` while no object exists."""
    import boto3

    from aws_stand_in import create_stand_in, describe_parameters_as_aws_does

    describe_parameters_as_aws_does(monkeypatch)
    cloudformation, s3, ssm = (boto3.client(name, region_name=REGION) for name in ("cloudformation", "s3", "ssm"))
    bucket = create_stand_in(cloudformation, s3, ssm, "ng-version")
    name = "/ng-version/truststore-version"

    def truststore(value: str | None) -> list[str]:
        if value is None:
            ssm.delete_parameter(Name=name)
        else:
            ssm.put_parameter(Name=name, Type="String", Value=value, Overwrite=True)
        done = preflight(
            tmp_path,
            "--stack",
            "ng-version",
            "--parameter-overrides",
            f"TruststoreVersionParameter={name}",
            domain=account["domain"],
            certificate=account["issued"],
            image=account["arm64"],
        )
        assert "Traceback" not in done.stderr, done.stderr
        lines = [line for line in fails(done) if line.startswith("FAIL  truststore")]
        assert (done.returncode == 0) == (not lines), done.stdout
        return lines

    assert truststore("none") == []
    (stray,) = truststore("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert f"holds 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY but s3://{bucket}/truststore.pem has no object" in stray
    older = s3.put_object(Bucket=bucket, Key="truststore.pem", Body=pem(ROOT_CA))["VersionId"]
    newest = s3.put_object(Bucket=bucket, Key="truststore.pem", Body=pem(ROOT_CA) * 2)["VersionId"]
    s3.put_object(Bucket=bucket, Key="truststore.pem.bak", Body=b"x")  # another key under the same prefix
    assert truststore(newest) == []
    for written in (older, "none"):
        (line,) = truststore(written)
        assert line.startswith(f"FAIL  truststore: {name} holds {written}, not the newest version {newest} "), line
        assert f"--value {newest}" in line
    (missing,) = truststore(None)
    assert missing.startswith(f"FAIL  truststore: no SSM parameter {name}: create it")


@pytest.mark.parametrize(
    ("line", "extra", "expected"),
    [
        ("region = 5", [], "region = 5 is not a string"),
        ("profile = true", [], "profile = True is not a string"),
        ("stack_name = [1]", [], "stack_name = [1] is not a string"),
        ("parameter_overrides = 5", [], "parameter_overrides must be a string or a list of strings"),
        ('parameter_overrides = ["A=1", 2]', [], "parameter_overrides must be a string or a list of strings"),
        ('parameter_overrides = "DomainName=\\"unterminated AuthorizerConcurrency=-1"', [], 'the quote " opened'),
        ('parameter_overrides = "DomainName=\'x y"', [], "the quote ' opened"),
        ('parameter_overrides = ["A=1", "B=\\"x\\\\\\""]', [], 'the quote " opened at character 3'),
        ("", ["--parameter-overrides", 'DomainName="unterminated AuthorizerConcurrency=-1'], "--parameter-overrides"),
    ],
)
def test_samconfig_values_of_the_wrong_type_or_with_an_open_quote_are_one_line(
    tmp_path: Path, line: str, extra: list[str], expected: str
) -> None:
    """A samconfig.toml setting of another type than `sam deploy` reads (``region = 5`` once gave a TypeError
    traceback) and a parameter override whose quote never closes (once minutes inside the SAM CLI's own
    pattern) are refused at once, one line naming the problem, before any AWS call."""
    config = tmp_path / "samconfig.toml"
    config.write_text(f"version = 0.1\n[default.deploy.parameters]\n{line}\n")
    env = {"PATH": "/usr/bin", "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    done = subprocess.run(
        [NODEGATE, "preflight", "--config-file", str(config), *extra],
        capture_output=True, text=True, timeout=30, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("nodegate preflight: error: "), done.stderr
    assert expected in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
