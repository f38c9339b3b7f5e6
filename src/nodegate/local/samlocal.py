"""How ``sam local invoke`` builds a function's environment, after aws-sam-cli's
``samcli/local/lambdafn/env_vars.py`` (``EnvironmentVariables.resolve``):

- only the variables the template declares (``Globals.Function`` and the function's own) reach the function;
- each takes the env-vars file's value (the function's section over ``Parameters``), else the shell's, else the
  template's; an intrinsic that stays unresolved becomes "" (a ``!Ref`` to a parameter takes its default);
- the AWS variables come first: region us-east-1 and the placeholder keys ``defaultkey``/``defaultsecret``
  when no credentials are configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


class Intrinsic:
    """A CloudFormation short-form tag (``!Ref X``, ``!Sub ...``) read without being evaluated."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads short-form tags as ``Intrinsic`` values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        return Intrinsic(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Intrinsic(suffix, loader.construct_sequence(node, deep=True))
    return Intrinsic(suffix, loader.construct_mapping(node, deep=True))


_Loader.add_multi_constructor("!", _intrinsic)


def read_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template, short-form tags kept as ``Intrinsic`` values."""
    return yaml.load(path.read_text(), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader subclass


def functions(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the template's ``AWS::Serverless::Function`` resources."""
    resources = template.get("Resources", {})
    return [name for name, body in resources.items() if body.get("Type") == "AWS::Serverless::Function"]


def declared_variables(template: Mapping[str, Any], function: str) -> dict[str, str]:
    """The function's environment as the template declares it, intrinsics resolved the way SAM does it locally."""
    parameters = template.get("Parameters", {})
    declared: dict[str, Any] = {}
    for holder in (template.get("Globals", {}).get("Function", {}), template["Resources"][function]["Properties"]):
        declared |= holder.get("Environment", {}).get("Variables", {})
    return {name: _resolve(value, parameters) for name, value in declared.items()}


def _resolve(value: Any, parameters: Mapping[str, Any]) -> str:
    if isinstance(value, Intrinsic):
        default = parameters.get(value.value, {}).get("Default") if value.tag == "Ref" else None
        value = "" if default is None or not isinstance(value.value, str) else default
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None or isinstance(value, dict | list) else str(value)


def overrides(env_file: Any, function: str) -> dict[str, str]:
    """The env-vars file's values for ``function``: its own section over ``Parameters``. Like SAM, refuse (with
    ValueError) a file that is not an object of objects."""
    if not isinstance(env_file, dict) or not all(isinstance(section, dict) for section in env_file.values()):
        raise ValueError('environment variables in incorrect format: use {"FunctionName": {"NAME": "value"}}')
    values: dict[str, str] = {}
    for section in ("Parameters", function):
        values |= {name: _resolve(value, {}) for name, value in env_file.get(section, {}).items()}
    return values


def function_environment(
    declared: Mapping[str, str], override: Mapping[str, str], shell: Mapping[str, str]
) -> dict[str, str]:
    """What the function sees: SAM's AWS variables, then each declared variable (override > shell > template)."""
    environment = {
        "AWS_SAM_LOCAL": "true",
        "AWS_REGION": shell.get("AWS_REGION") or shell.get("AWS_DEFAULT_REGION") or "us-east-1",
        "AWS_ACCESS_KEY_ID": shell.get("AWS_ACCESS_KEY_ID") or "defaultkey",
        "AWS_SECRET_ACCESS_KEY": shell.get("AWS_SECRET_ACCESS_KEY") or "defaultsecret",
        "AWS_ACCOUNT_ID": "123456789012",
    }
    environment["AWS_DEFAULT_REGION"] = environment["AWS_REGION"]
    for name, value in declared.items():
        environment[name] = override.get(name, shell.get(name, value))
    return environment
