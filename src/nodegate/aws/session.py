"""The AWS session a command talks through: the profile and region given, else samconfig.toml's deploy region
(the one `sam deploy` used), else the profile's own."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

SAMCONFIG = Path(__file__).resolve().parents[3] / "samconfig.toml"


class AwsError(Exception):
    """A call to AWS failed; the message is one line that says what to do."""


def read_samconfig(path: Path = SAMCONFIG) -> dict[str, Any]:
    """samconfig.toml as a table (empty when it is missing or not TOML: `sam deploy` would say so itself)."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def samconfig_region(path: Path = SAMCONFIG) -> str | None:
    """The region `sam deploy` uses, from samconfig.toml's default deploy parameters; AwsError (one line) when
    a table on the way or the region is not of the type TOML would give it in a working samconfig.toml."""
    table: Any = read_samconfig(path)
    for key in ("default", "deploy", "parameters"):
        table = table.get(key, {}) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        raise AwsError(f"{path}: [default.deploy.parameters] is not a table: fix samconfig.toml")
    return checked_settings(path, table).get("region") or None


SETTINGS = ("region", "profile", "stack_name")
"""The samconfig.toml deploy settings nodegate reads: each one is a string."""


def checked_settings(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` when the ones nodegate reads have the types `sam deploy` needs (strings; parameter_overrides
    a string or a list of strings, whose quotes close); else AwsError, one line naming the setting."""
    for key in SETTINGS:
        if key in settings and not isinstance(settings[key], str):
            value = settings[key]
            raise AwsError(f"{path}: {key} = {value!r} is not a string: write it in quotes")
    overrides = settings.get("parameter_overrides", "")
    texts = [overrides] if isinstance(overrides, str) else overrides
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise AwsError(f"{path}: parameter_overrides must be a string or a list of strings (Key=Value)")
    for text in texts:
        if problem := quote_problem(text):
            raise AwsError(f"{path}: parameter_overrides: {problem}")
    return settings


def quote_problem(overrides: str) -> str | None:
    """Why ``Key=Value ...`` cannot be read (None when it can): a value that opens a quote right after ``=``
    and never closes it (a backslash escapes the next character, as in the SAM CLI's grammar). The SAM CLI's
    own pattern backtracks for minutes on such a value, so it is refused before it gets there."""
    index = 0
    while (index := overrides.find("=", index) + 1) > 0:
        quote = overrides[index : index + 1]
        if quote not in ('"', "'"):
            continue
        start, index = index, index + 1
        while index < len(overrides) and overrides[index] != quote:
            index += 2 if overrides[index] == "\\" else 1
        if index >= len(overrides):
            return f"the quote {quote} opened at character {start + 1} is never closed: close it or escape it"
        index += 1
    return None


def sam_deploy_configuration(path: Path = SAMCONFIG, overrides: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """samconfig.toml's deploy parameters (``stack_name``, ``region``, ...) and the template parameter overrides
    with ``overrides`` (``Key=Value ...``, as `sam deploy --parameter-overrides` takes them) on top, both read by
    the SAM CLI's own code, so quoting and lists mean what they mean to `sam deploy`."""
    try:
        from click import ClickException
        from samcli.cli.types import CfnParameterOverridesType
        from samcli.lib.config.exceptions import FileParseException, SamConfigVersionException
        from samcli.lib.config.samconfig import SamConfig
    except ImportError:
        raise AwsError("samconfig.toml is read with the SAM CLI's own parser: run from .venv (make tools)") from None
    if not path.is_file():
        raise AwsError(f"{path}: no such file: pass the samconfig.toml `sam deploy` reads (--config-file)")
    try:
        configuration = checked_settings(path, SamConfig(str(path.parent), path.name).get_all(["deploy"], "parameters"))
        if problem := quote_problem(overrides):
            raise AwsError(f"--parameter-overrides: {problem}")
        parse = CfnParameterOverridesType().convert
        parameters = parse(configuration.get("parameter_overrides", ""), None, None)
        parameters |= parse(overrides, None, None) if overrides else {}
    except (ClickException, FileParseException, SamConfigVersionException, ValueError) as exc:
        raise AwsError(f"{path}: {one_line(exc)}") from None
    return dict(configuration), {str(k): str(v) for k, v in parameters.items()}


def error_code(exc: Exception) -> str:
    """The error code of a botocore ClientError ("" for other errors)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, from the innermost exception it wraps as its argument: the SAM CLI's
    FileParseException wraps the TOML error as an object, and str() on it raises TypeError."""
    if exc.args and isinstance(exc.args[0], BaseException):
        return one_line(exc.args[0])
    try:
        text = str(exc)
    except (TypeError, ValueError):  # a __str__ that does not return a string
        text = ""
    return " ".join(text.split()) or type(exc).__name__


def open_session(region: str | None, profile: str | None) -> Any:
    """A boto3 session for ``profile`` in ``region`` (default: samconfig.toml's deploy region); AwsError when the
    profile does not exist or no region can be found."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(profile_name=profile, region_name=region or samconfig_region())
    except BotoCoreError as exc:
        raise AwsError(f"{exc}: check --profile and ~/.aws/config") from None
    if not session.region_name:
        raise AwsError("no AWS region: pass --region, set AWS_REGION, or set region in samconfig.toml")
    return session


def make_default(session: Any) -> None:
    """Make ``session`` the one plain ``boto3.client()`` calls use (the authorizer's own S3 reads)."""
    import boto3

    boto3.DEFAULT_SESSION = session


def arn_region(arn: str) -> str:
    """The region field of an ARN (``arn:partition:service:region:account:resource``), or "" when there is none."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else ""
