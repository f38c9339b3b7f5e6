"""`nodegate explain --stack` (issue 18 item 6): the settings come from the deployed function (CloudFormation finds
it, Lambda GetFunctionConfiguration gives its environment) and the decision is the one the handler makes with that
environment (moto CloudFormation, Lambda and S3 in one server)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from test_authorizer import log_stream  # noqa: F401 - the authorizer's log, in a buffer

from commands import NODEGATE, ROOT
from conftest import use_authorizer_settings
from nodegate.aws.stack_settings import DeployedAuthorizer, _notes
from nodegate.local.edge import ApiIdentity, build_event
from nodegate_authorizer import handler as authorizer

REGION = "eu-west-1"
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


CODE_BUCKET = "nodegate-code"


def stack_template(revocation_mode: str) -> dict[str, Any]:
    """The settings part of template.yaml's AuthorizerFunction, as plain CloudFormation moto deploys."""
    bucket = "${TruststoreBucket}"
    environment = {
        "TRUSTSTORE_URI": {"Fn::Sub": f"s3://{bucket}/truststore.pem"},
        "TRUSTSTORE_VERSION": {"Ref": "TruststoreVersionParameter"},
        "CRL_STORE_URI": {"Fn::Sub": f"s3://{bucket}/crls/"},
        "ACCESS_POLICY_URI": "",
        "ACCESS_POLICY_VERSION": "",
        "REVOCATION_MODE": revocation_mode,
        "REVOCATION_FETCH": "store-only",
        "ASSERTION_KEY_ID": "",
        "AWS_ENDPOINT_URL_S3": "",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    return {
        # template.yaml's is an SSM parameter type; moto 5.2.5 does not re-resolve one on update, so the stand-in
        # takes the resolved version itself (the stack's ResolvedValue becomes its ParameterValue)
        "Parameters": {"TruststoreVersionParameter": {"Type": "String"}},
        "Resources": {
            "TruststoreBucket": {"Type": "AWS::S3::Bucket"},
            "AuthorizerRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": ROLE_POLICY}},
            "AuthorizerFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "app.lambda_handler",
                    "Role": {"Fn::GetAtt": ["AuthorizerRole", "Arn"]},
                    "Code": {"S3Bucket": CODE_BUCKET, "S3Key": "authorizer.zip"},
                    "Environment": {"Variables": environment},
                },
            },
        },
        "Outputs": {"TruststoreBucketName": {"Value": {"Ref": "TruststoreBucket"}}},
    }


@pytest.fixture
def aws(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every service of the moto server, for boto3 here and in the CLI's process."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return s3_server


def code_zip() -> bytes:
    """A stand-in package (moto stores the function, it does not run it here)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def deploy(prefix: str, revocation_mode: str = "hard-fail", pin: bool = True) -> tuple[str, str]:
    """A new stack whose bucket holds the sample PKI's truststore and CRLs, its authorizer pinned to the
    truststore's version (as publish-truststore leaves it); returns the stack's name and its bucket."""
    import uuid

    import boto3

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name=REGION)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # the moto server lives for the session
        s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=CODE_BUCKET, Key="authorizer.zip", Body=code_zip())
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    body = json.dumps(stack_template(revocation_mode))
    unpublished = [{"ParameterKey": "TruststoreVersionParameter", "ParameterValue": ""}]
    cloudformation.create_stack(
        StackName=name, TemplateBody=body, Parameters=unpublished, Capabilities=["CAPABILITY_IAM"]
    )
    bucket = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # moto's CFN skips it
    truststore = (ROOT / "certificates" / "truststore.pem").read_bytes()
    version = s3.put_object(Bucket=bucket, Key="truststore.pem", Body=truststore)["VersionId"]
    for crl in sorted((ROOT / "certificates" / "crls").iterdir()):
        s3.put_object(Bucket=bucket, Key=f"crls/{crl.name}", Body=crl.read_bytes())
    published = [{"ParameterKey": "TruststoreVersionParameter", "ParameterValue": version if pin else "no-such"}]
    cloudformation.update_stack(
        StackName=name, TemplateBody=body, Parameters=published, Capabilities=["CAPABILITY_IAM"]
    )
    return name, str(bucket)


def explain_stack(stack: str, cert: str, node: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    done = subprocess.run(
        [NODEGATE, "explain", "--stack", stack, "--region", REGION, "--cert", cert, "--node", node, "--json"],
        cwd=ROOT,
        env=os.environ | {"AWS_ENDPOINT_URL_S3": os.environ["AWS_ENDPOINT_URL"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout), done


def handler_response(bucket: str, version: str, cert: str, node: str, revocation_mode: str) -> dict[str, Any]:
    """What the handler answers for the same request with the environment the stack gave its function."""
    environment = {
        "TRUSTSTORE_URI": f"s3://{bucket}/truststore.pem",
        "TRUSTSTORE_VERSION": version,
        "CRL_STORE_URI": f"s3://{bucket}/crls/",
        "REVOCATION_MODE": revocation_mode,
        "REVOCATION_FETCH": "store-only",
    }
    der = x509.load_pem_x509_certificate((ROOT / cert).read_bytes()).public_bytes(Encoding.DER)
    event = build_event(ApiIdentity(), "GET", f"/nodes/{node}/status", "", {}, "127.0.0.1", der)
    with pytest.MonkeyPatch.context() as patch:
        use_authorizer_settings(patch, environment)
        return authorizer.lambda_handler(event)


def stack_version(stack: str) -> str:
    """The truststore version the stack resolved from its SSM parameter."""
    import boto3

    parameters = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=stack)["Stacks"][0]
    return str(parameters["Parameters"][0]["ParameterValue"])


@pytest.mark.parametrize(
    ("cert", "node", "decision", "reason"),
    [
        ("certificates/alice-node-1.pem", "node-1", "Allow", None),
        ("certificates/alice-node-1.pem", "node-2", "Deny", "NODE_MISMATCH"),
        ("certificates/bob-node-2-revoked.pem", "node-2", "Deny", "REVOKED"),
    ],
)
def test_explain_stack_decides_as_the_handler_does_with_the_functions_environment(
    aws: str, cert: str, node: str, decision: str, reason: str | None
) -> None:
    stack, bucket = deploy("ng-explain")
    report, done = explain_stack(stack, cert, node)
    assert f"settings of {stack}-AuthorizerFunction" in done.stderr
    assert (report["decision"], report.get("reason")) == (decision, reason)
    assert done.returncode == (0 if decision == "Allow" else 1)
    expected = handler_response(bucket, stack_version(stack), cert, node, "hard-fail")
    assert report["response"] == expected


def test_explain_stack_reports_what_the_deployed_settings_deny(aws: str) -> None:
    """A truststore pin that names no version denies everyone on AWS; explain says so, with the handler's response
    (the request's own API, not every API), and points at the reader's credentials."""
    stack, bucket = deploy("ng-unpinned", pin=False)
    report, done = explain_stack(stack, "certificates/alice-node-1.pem", "node-1")
    assert report["reason"] == "TRUSTSTORE_UNAVAILABLE"
    assert "read with your credentials" in done.stderr
    expected = handler_response(bucket, "no-such", "certificates/alice-node-1.pem", "node-1", "hard-fail")
    assert report["response"] == expected


def test_explain_stack_with_invalid_settings_is_config_invalid(aws: str) -> None:
    stack, bucket = deploy("ng-broken", revocation_mode="sometimes")
    report, _ = explain_stack(stack, "certificates/alice-node-1.pem", "node-1")
    assert (report["decision"], report["reason"], report["revocationMode"]) == ("Deny", "CONFIG_INVALID", None)
    assert "REVOCATION_MODE='sometimes'" in report["detail"]
    expected = handler_response(bucket, stack_version(stack), "certificates/alice-node-1.pem", "node-1", "x")
    assert report["response"] == expected


def test_explain_stack_failures_are_one_line(aws: str) -> None:
    present, _ = deploy("ng-present")
    run = [NODEGATE, "explain", "--cert", "certificates/alice-node-1.pem", "--region", REGION]
    for extra, message in (
        (["--stack", "ng-absent"], f"no stack ng-absent in {REGION}: check --stack, --region and --profile"),
        (["--stack", present, "--function", "Other"], f"stack {present} has no Other: is it a nodegate stack?"),
    ):
        done = subprocess.run([*run, *extra], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [f"nodegate explain: error: {message}"]
    both = subprocess.run(
        [*run, "--stack", "x", "--env-vars", "events/env.json"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert both.returncode == 2


def test_a_parameter_the_function_does_not_run_with_is_a_note() -> None:
    described = {
        "StackName": "ng",
        "StackStatus": "UPDATE_IN_PROGRESS",
        "Parameters": [
            {
                "ParameterKey": "TruststoreVersionParameter",
                "ParameterValue": "/ng/truststore-version",
                "ResolvedValue": "v2",
            }
        ],
    }
    notes = _notes(described, {"TRUSTSTORE_VERSION": "v1"})
    assert notes == [
        "stack ng is UPDATE_IN_PROGRESS: the function may change under this answer",
        "the stack's TruststoreVersionParameter is 'v2' but the function runs with TRUSTSTORE_VERSION='v1'; "
        "this answer uses the function's",
    ]
    unpublished = {"ParameterKey": "TruststoreVersionParameter", "ParameterValue": "/x", "ResolvedValue": "none"}
    assert _notes({"StackStatus": "CREATE_COMPLETE", "Parameters": [unpublished]}, {"TRUSTSTORE_VERSION": ""}) == []
    steady = described | {"StackStatus": "UPDATE_COMPLETE"}
    assert _notes(steady, {"TRUSTSTORE_VERSION": "v2"}) == []
    assert DeployedAuthorizer("f", {}, ()).notes == ()


def test_the_readme_names_the_log_groups_and_fields_the_stack_and_handler_write(
    log_stream: io.StringIO,  # noqa: F811
) -> None:
    """The section's log group names are template.yaml's for stack `nodegate`; the query's fields are ones the
    handler's decision line (by a real call) and the access log format write; its sam logs line names a function."""
    import re

    from cfnlint.decode import cfn_yaml

    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Why was a request denied on AWS?", 1)[1].split("\n### ", 1)[0]
    resources = cfn_yaml.load(str(ROOT / "template.yaml"))["Resources"]
    for group in ("AuthorizerLogGroup", "ApiAccessLogGroup", "CrlMirrorLogGroup"):
        name = resources[group]["Properties"]["LogGroupName"]["Fn::Sub"].replace("${AWS::StackName}", "nodegate")
        assert f"`{name}`" in section, name
    access_fields = set(
        json.loads(re.sub(r'"\$context[^"]*"', '""', resources["NodeApi"]["Properties"]["AccessLogSetting"]["Format"]))
    )
    der = x509.load_pem_x509_certificate((ROOT / "certificates/alice-node-1.pem").read_bytes()).public_bytes(
        Encoding.DER
    )
    event = build_event(ApiIdentity(), "GET", "/nodes/node-2/status", "", {}, "127.0.0.1", der)
    assert event is not None
    event["requestContext"]["requestId"] = "req-0123"
    with pytest.MonkeyPatch.context() as patch:
        use_authorizer_settings(
            patch,
            {
                "TRUSTSTORE_URI": f"file://{ROOT}/certificates/truststore.pem",
                "CRL_STORE_URI": f"file://{ROOT}/certificates/crls/",
                "REVOCATION_FETCH": "store-only",
            },
        )
        authorizer.lambda_handler(event)
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.startswith("{")]
    decision = next(line for line in lines if line.get("message") == "authorization decision")
    assert decision["correlation_id"] == "req-0123"
    assert decision["reason"] == "NODE_MISMATCH"
    query = section.split("```\nfields", 1)[1].split("```", 1)[0]
    used = set(re.findall(r"(?<![@\w])([a-zA-Z_]+)\b(?= =|,|\n)", "fields" + query)) - {"fields", "asc"}
    assert used <= set(decision) | access_fields, used - set(decision) - access_fields
    assert {"correlation_id", "requestId"} <= used
    assert "-n AuthorizerFunction" in section
    assert resources["AuthorizerFunction"]["Type"] == "AWS::Serverless::Function"
