"""The deployed authorizer's settings: its function found through the stack (CloudFormation), its environment as
Lambda runs it (GetFunctionConfiguration), and where the stack's parameters say otherwise (an update under way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodegate.aws.publish import NOT_PUBLISHED
from nodegate.aws.session import AwsError, error_code

FUNCTION = "AuthorizerFunction"
PINNED = {"TruststoreVersionParameter": "TRUSTSTORE_VERSION", "AccessPolicyVersion": "ACCESS_POLICY_VERSION"}
"""Stack parameters (their values as the stack resolved them) the authorizer's environment carries."""


@dataclass(frozen=True)
class DeployedAuthorizer:
    """What ``nodegate explain --stack`` decides with."""

    function: str
    environment: dict[str, str]
    notes: tuple[str, ...]
    """Lines the operator should read before trusting the answer (the stack is changing, a parameter and the
    function disagree)."""


def deployed_authorizer(session: Any, stack: str, logical_id: str = FUNCTION) -> DeployedAuthorizer:
    """The environment of ``stack``'s authorizer function as Lambda runs it now; AwsError with the fix otherwise."""
    from botocore.exceptions import BotoCoreError, ClientError

    region = session.region_name
    try:
        cloudformation = session.client("cloudformation")
        try:
            described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if error_code(exc) != "ValidationError":
                raise
            raise AwsError(f"no stack {stack} in {region}: check --stack, --region and --profile") from None
        try:
            resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        except ClientError as exc:
            if error_code(exc) != "ValidationError":
                raise
            raise AwsError(f"stack {stack} has no {logical_id}: is it a nodegate stack?") from None
        function = resource["StackResourceDetail"].get("PhysicalResourceId") or ""
        if not function:
            raise AwsError(f"stack {stack} has not created {logical_id} yet (status {described['StackStatus']})")
        configuration = session.client("lambda").get_function_configuration(FunctionName=function)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(f"{error.get('Code', 'error')}: {error.get('Message', exc)} (stack {stack}, {region})") from None
    except BotoCoreError as exc:
        raise AwsError(f"{exc} (stack {stack}, {region}): check your credentials, --profile and --region") from None
    environment = {
        str(name): str(value) for name, value in configuration.get("Environment", {}).get("Variables", {}).items()
    }
    return DeployedAuthorizer(function, environment, tuple(_notes(described, environment)))


def _notes(stack: dict[str, Any], environment: dict[str, str]) -> list[str]:
    status = str(stack.get("StackStatus", ""))
    notes = []
    if status.endswith("_IN_PROGRESS") or "ROLLBACK" in status or status.endswith("_FAILED"):
        notes.append(f"stack {stack.get('StackName')} is {status}: the function may change under this answer")
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in stack.get("Parameters", [])
    }
    if parameters.get("TruststoreVersionParameter") == NOT_PUBLISHED:
        parameters["TruststoreVersionParameter"] = ""
    for parameter, variable in PINNED.items():
        if parameter in parameters and parameters[parameter] != environment.get(variable, ""):
            notes.append(
                f"the stack's {parameter} is {parameters[parameter]!r} but the function runs with "
                f"{variable}={environment.get(variable, '')!r}; this answer uses the function's"
            )
    return notes
