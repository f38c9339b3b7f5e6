"""Issue 18 item 1: no sequence of documented commands deletes the custom domain or rolls the truststore back.
The sequences run as SAM runs them: SAM CLI's own guided prompts (answered here), its samconfig.toml saving and
reading, its parameter_overrides parser, its parameter merge and its change-set deployer, against moto's
CloudFormation, SSM and S3 with a stand-in stack that carries the template's real parameters and conditions
(tests/aws_stand_in.py); publish-truststore runs as the operator runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from samcli.commands.deploy import guided_context
from samcli.commands.deploy.command import cli as deploy_command
from samcli.commands.deploy.deploy_context import DeployContext
from samcli.commands.deploy.guided_config import GuidedConfig
from samcli.commands.deploy.utils import sanitize_parameter_overrides

from aws_stand_in import (
    REQUIRED,
    ROOT,
    deployed,
    describe_parameters_as_aws_does,
    sam_overrides,
    samconfig_deploy,
    stand_in_template,
)
from commands import NODEGATE
from nodegate.pki.authority import CertificateAuthority, pem

STACK = "nodegate"
REGION = "eu-west-1"
ANSWERS = REQUIRED  # what a newcomer types at the guided prompts; every other prompt is answered with Enter


class Sam:
    """`sam deploy` and `sam deploy --guided` in a directory holding template.yaml and samconfig.toml."""

    def __init__(self, directory: Path, cloudformation: Any) -> None:
        self.directory = directory
        self.template = directory / "template.yaml"
        self.template.write_text(__import__("json").dumps(stand_in_template()))
        shutil.copy(ROOT / "samconfig.toml", directory / "samconfig.toml")
        self.cloudformation = cloudformation

    def overrides(self, command_line: str | None = None) -> dict[str, str]:
        """The parameter overrides SAM uses: the command line's when given, else samconfig.toml's."""
        if command_line is not None:
            return sam_overrides(command_line)
        return sam_overrides(samconfig_deploy(self.directory / "samconfig.toml").get("parameter_overrides"))

    def guided(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`sam deploy --guided`: prompt every template parameter (defaults from samconfig.toml, else the
        template), save the answers to samconfig.toml as SAM does, deploy them."""
        monkeypatch.setattr(
            guided_context,
            "prompt",
            lambda text, default=None, **_: ANSWERS.get(click.unstyle(text).split()[-1], default),
        )
        context = guided_context.GuidedContext(
            template_file=str(self.template),
            stack_name=STACK,
            s3_bucket=None,
            image_repository=None,
            image_repositories=None,
            s3_prefix=STACK,
            region=REGION,
            parameter_overrides=self.overrides(),
        )
        parameters = guided_context.get_template_parameters(str(self.template))
        answered = context.prompt_parameters(parameters, self.overrides(), "", "")
        with click.Context(deploy_command, info_name="deploy") as ctx:
            ctx.samconfig_dir = str(self.directory)  # type: ignore[attr-defined]
            GuidedConfig(template_file=str(self.template), section="parameters").save_config(
                answered, "default", "samconfig.toml", stack_name=STACK, region=REGION
            )
        self.deploy(sanitize_parameter_overrides(answered))

    def deploy(self, overrides: dict[str, str] | None = None) -> None:
        """`sam deploy` (with these overrides, else samconfig.toml's): SAM's parameter merge, then a create or
        an update (moto's change sets do not compute outputs, so the stack is created and updated directly)."""
        import json

        from botocore.exceptions import ClientError

        template = self.template.read_text()
        parameters = DeployContext.merge_parameters(json.loads(template), overrides or self.overrides())
        try:
            self.cloudformation.update_stack(StackName=STACK, TemplateBody=template, Parameters=parameters)
        except ClientError as error:
            message = error.response["Error"]["Message"]
            if "No updates are to be performed" in message:
                return  # SAM: "No changes to deploy"
            assert "does not exist" in message, message
            # SAM's Deployer drops UsePreviousValue on CREATE (samcli/lib/deploy/deployer.py, create_changeset)
            creating = [p for p in parameters if not p.get("UsePreviousValue")]
            self.cloudformation.create_stack(StackName=STACK, TemplateBody=template, Parameters=creating)


@pytest.fixture
def aws(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """boto3 clients of one moto server, which publish-truststore reaches through AWS_ENDPOINT_URL."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    describe_parameters_as_aws_does(monkeypatch)
    return {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "ssm", "s3")}


def publish(directory: Path, bundle: bytes) -> str:
    """scripts/publish-truststore --yes; returns the S3 version it published."""
    (directory / "bundle.pem").write_bytes(bundle)
    done = subprocess.run(
        [NODEGATE, "publish-truststore", "--stack", STACK, "--bundle", "bundle.pem", "--region", REGION, "--yes"],
        cwd=directory,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" version ")[1].split(";")[0]


def test_no_documented_deploy_sequence_deletes_the_domain_or_rolls_the_truststore_back(
    tmp_path: Path, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guided deploy, publish, plain deploy, guided again, a redeploy with another parameter, a rotation."""
    aws["ssm"].put_parameter(Name="/nodegate/truststore-version", Type="String", Value="none", Overwrite=True)
    sam = Sam(tmp_path, aws["cloudformation"])
    old_root, new_root = CertificateAuthority.root("old root"), CertificateAuthority.root("new root")

    sam.guided(monkeypatch)
    bucket = aws["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"][0]["OutputValue"]
    aws["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # moto ignores it
    assert deployed(aws["cloudformation"], STACK) == {"AuthorizerFunction": ""}  # no domain before a truststore exists
    first = publish(tmp_path, pem(old_root.cert))
    domain = {"ApiDomain": first, "ApiBasePathMapping": "nodes.example.com", "AuthorizerFunction": first}
    assert deployed(aws["cloudformation"], STACK) == domain

    sam.deploy()  # the samconfig.toml the guided deploy wrote
    assert deployed(aws["cloudformation"], STACK) == domain
    policy = {"AccessPolicyKey": "policy/access-policy.json", "AccessPolicyVersion": "v1"}  # README step 7
    config = tmp_path / "samconfig.toml"
    saved = samconfig_deploy(config)["parameter_overrides"]
    added = " ".join(f'{key}="{value}"' for key, value in policy.items())
    config.write_text(config.read_text().replace(saved.replace('"', '\\"'), f"{saved} {added}".replace('"', '\\"')))
    assert sam.overrides().items() >= policy.items()
    sam.guided(monkeypatch)  # every prompt answered with its default
    assert deployed(aws["cloudformation"], STACK) == domain
    listed = aws["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]["Parameters"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in listed}.items() >= policy.items()
    sam.deploy(sam.overrides("LogLevel=DEBUG"))  # `sam deploy --parameter-overrides LogLevel=DEBUG`
    assert deployed(aws["cloudformation"], STACK) == domain

    overlap = publish(tmp_path, pem(old_root.cert, new_root.cert))  # rotation: overlap, then retire
    retired = publish(tmp_path, pem(new_root.cert))
    assert len({first, overlap, retired}) == 3
    rotated = {"ApiDomain": retired, "ApiBasePathMapping": "nodes.example.com", "AuthorizerFunction": retired}
    assert deployed(aws["cloudformation"], STACK) == rotated
    sam.deploy()
    sam.guided(monkeypatch)
    assert deployed(aws["cloudformation"], STACK) == rotated
    assert "TruststoreVersion" not in sam.overrides()  # nothing in samconfig.toml can hold a version
