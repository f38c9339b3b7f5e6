"""A stack moto's CloudFormation can hold in place of template.yaml where deploys and publishes touch it: the real
Parameters and Conditions and the truststore bucket. moto 5 cannot create the translated template (README, Known
limits), nor add or remove resources when a condition changes on update, so ``deployed`` evaluates the template's
own conditions and truststore-version expressions over the parameters the stack holds, as CloudFormation would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))


# The parameters without a default, as an operator fills them in.
REQUIRED = {
    "DomainName": "nodes.example.com",
    "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
    "NodeAmiId": "ami-0123456789abcdef0",
    "S3PrefixListId": "pl-6da54004",
    "PublisherRoleArn": "arn:aws:iam::123456789012:role/publisher",
    "DeployRoleArn": "arn:aws:iam::123456789012:role/deployer",
}


def create_stand_in(cloudformation: Any, s3: Any, ssm: Any, stack: str, **parameters: str) -> str:
    """A stand-in stack with its own truststore-version SSM parameter (README, first deploy) and a versioned
    bucket (moto ignores VersioningConfiguration); returns the bucket's name."""
    name = f"/{stack}/truststore-version"
    # moto also resolves the default name when a value is given
    default = TEMPLATE["Parameters"]["TruststoreVersionParameter"]["Default"]
    for created in (name, default):
        ssm.put_parameter(Name=created, Type="String", Value="none", Overwrite=True)
    # every parameter given (moto cannot take UsePreviousValue for a parameter left at its default)
    defaults = {key: str(slot["Default"]) for key, slot in TEMPLATE["Parameters"].items() if "Default" in slot}
    given = defaults | REQUIRED | {"TruststoreVersionParameter": name} | parameters
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(stand_in_template()),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
    )
    bucket = str(cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"][0]["OutputValue"])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def sam_overrides(value: object) -> dict[str, str]:
    """Parameter overrides as SAM CLI parses them (its CfnParameterOverridesType), from a samconfig.toml
    value or a command line's words."""
    from samcli.cli.types import CfnParameterOverridesType

    return dict(CfnParameterOverridesType().convert(value, None, None))


def samconfig_deploy(path: Path) -> dict[str, Any]:
    """samconfig.toml's default deploy options as SAM CLI reads them (inside its deploy command's context)."""
    import click
    from samcli.cli.cli_config_file import ConfigProvider
    from samcli.commands.deploy.command import cli as deploy_command

    with click.Context(deploy_command, info_name="deploy"):
        return dict(ConfigProvider(section="parameters")(path, "default", ["deploy"]))


def stand_in_template() -> dict[str, Any]:
    """The stand-in stack's template (JSON): the real Parameters and Conditions, the truststore bucket and its
    output, which is all publish-truststore reads."""
    template = {
        "Parameters": TEMPLATE["Parameters"],
        "Conditions": TEMPLATE["Conditions"],
        "Resources": {"TruststoreBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {"TruststoreBucketName": {"Value": {"Ref": "TruststoreBucket"}}},
    }
    return json.loads(json.dumps(template))


def evaluate(expression: Any, parameters: dict[str, str]) -> Any:
    """A template expression over the stack's resolved parameter values, as CloudFormation evaluates it (the
    intrinsics the truststore path uses; any other is an error, never a guess)."""
    if not isinstance(expression, dict):
        return expression
    [(function, argument)] = expression.items()
    if function == "Ref":
        return parameters[argument]
    if function == "Condition":
        return evaluate(TEMPLATE["Conditions"][argument], parameters)
    if function == "Fn::Equals":
        return evaluate(argument[0], parameters) == evaluate(argument[1], parameters)
    if function == "Fn::Not":
        return not evaluate(argument[0], parameters)
    if function == "Fn::If":
        chosen = argument[1] if evaluate({"Condition": argument[0]}, parameters) else argument[2]
        return evaluate(chosen, parameters)
    raise NotImplementedError(function)


def deployed(cloudformation: Any, stack: str) -> dict[str, str]:
    """What the stack's parameters make of the truststore path: which of the custom domain, its base path
    mapping and the authorizer exist, and the truststore version each one uses."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]
    parameters = {p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in described}
    resources = TEMPLATE["Resources"]
    uses = {
        "ApiDomain": resources["ApiDomain"]["Properties"]["MutualTlsAuthentication"]["TruststoreVersion"],
        "ApiBasePathMapping": {"Ref": "DomainName"},
        "AuthorizerFunction": resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"][
            "TRUSTSTORE_VERSION"
        ],
    }
    return {
        name: str(evaluate(value, parameters))
        for name, value in uses.items()
        if "Condition" not in resources[name] or evaluate({"Condition": resources[name]["Condition"]}, parameters)
    }


def describe_parameters_as_aws_does(monkeypatch: Any) -> None:
    """moto 5 lists an SSM-typed parameter's resolved value as its ParameterValue; CloudFormation lists the
    parameter's name there and the value as ResolvedValue (API Parameter reference), which publish-truststore
    reads. Patch moto's in-process model to answer as CloudFormation does."""
    from moto.cloudformation.models import Stack

    def parameter_list(stack: Any) -> list[dict[str, Any]]:
        slots = stack.resource_map._template.get("Parameters", {})
        listed = []
        for key, value in stack.resource_map.resolved_parameters.items():
            if slots[key]["Type"].startswith("AWS::SSM::Parameter::"):
                name = stack.resource_map.input_parameters.get(key, slots[key].get("Default"))
                listed.append({"ParameterKey": key, "ParameterValue": name, "ResolvedValue": value})
            else:
                listed.append({"ParameterKey": key, "ParameterValue": value})
        return listed

    monkeypatch.setattr(Stack, "parameter_list", property(parameter_list))

    # An update whose only change is a new value in Parameter Store is an update: "CloudFormation always fetches
    # the latest values from Parameter Store when it updates stacks" (Systems Manager parameter types, user
    # guide). moto 5 compares the request with the stack's resolved values and answers "No updates".
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.ssm import ssm_backends

    unchanged = CloudFormationResponse._validate_different_update

    def validate_different_update(response: Any, incoming: Any, body: str, stack: Any) -> None:
        slots = stack.resource_map._template.get("Parameters", {})
        store = ssm_backends[stack.account_id][stack.region_name]
        for key, value in stack.resource_map.resolved_parameters.items():
            if slots[key]["Type"].startswith("AWS::SSM::Parameter::"):
                name = stack.resource_map.input_parameters.get(key, slots[key].get("Default"))
                if store.get_parameter(name).value != value:
                    return
        unchanged(response, incoming, body, stack)

    monkeypatch.setattr(CloudFormationResponse, "_validate_different_update", validate_different_update)
