"""The sample events as `sam local invoke` runs them, rehearsed without Docker.

The package is built the way `sam build` builds it (the CodeUri plus ``pip install -r requirements.txt -t``)
with the template's runtime Python (``scripts/sam-build --which-python``; python3.12 from PATH or pyenv); the
environment comes from SAM's own rule (``nodegate.local.samlocal``, after aws-sam-cli's
``EnvironmentVariables.resolve``); the handler runs in that interpreter with only the package on its path (what
/var/task holds), exactly that environment, and ``nodegate sample-store`` (a real moto server) as S3. What is not
rehearsed: the container image itself, and the arm64 architecture (the package is built for this machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from commands import ROOT, run, serving
from nodegate.local.samlocal import (
    Intrinsic,
    declared_variables,
    function_environment,
    overrides,
    read_template,
)
from nodegate.local.stack import free_port

SAMPLES = [
    ("allow", "Allow", None),
    ("other-node", "Deny", "NODE_MISMATCH"),
    ("revoked", "Deny", "REVOKED"),
    ("expired", "Deny", "EXPIRED"),
    ("no-cert", "Deny", "NO_CLIENT_CERT"),
    ("malformed-pem", "Deny", "MALFORMED_CERT"),
]
TEMPLATE = read_template()
FUNCTION = "AuthorizerFunction"


def verdict(response: dict[str, object]) -> tuple[str, str | None]:
    statement = response["policyDocument"]["Statement"][0]  # type: ignore[index]
    return statement["Effect"], response.get("context", {}).get("reason")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("sample", "effect", "reason"), SAMPLES)
def test_nodegate_invoke_on_the_sample_events(sample: str, effect: str, reason: str | None) -> None:
    result = run("invoke", "-e", f"events/{sample}.json", "--env-vars", "events/env.json")
    assert result.returncode == 0, result.stderr
    assert verdict(json.loads(result.stdout)) == (effect, reason)


@pytest.fixture(scope="module")
def sample_s3() -> Iterator[str]:
    """``nodegate sample-store`` as a developer starts it beside `sam local invoke`."""
    port = free_port()
    with serving("sample-store", "--port", str(port)) as lines:
        assert f"http://127.0.0.1:{port}" in lines[0]
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def runtime_python() -> str:
    """The template's runtime Python, found the way `make build` finds it (this interpreter when there is none)."""
    found = subprocess.run(
        [str(ROOT / "scripts" / "sam-build"), "--which-python"], capture_output=True, text=True, check=False
    )
    python = found.stdout.strip()
    if found.returncode != 0 or subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode:
        warnings.warn("no python (with pip) of the template's runtime: the rehearsal runs on this one", stacklevel=1)
        return sys.executable
    return python


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory, runtime_python: str) -> Path:
    """/var/task as `sam build` fills it: the CodeUri's files and its pinned requirements, for this machine."""
    root = tmp_path_factory.mktemp("var") / "task"
    shutil.copytree(ROOT / "src" / "authorizer", root, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    install = [runtime_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-warn-script-location"]
    built = subprocess.run(
        [*install, "-r", str(root / "requirements.txt"), "-t", str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return root


def container_environment(endpoint: str) -> dict[str, str]:
    """What SAM puts in the container for events/sam-env.json, with the local S3 on this test's port."""
    given = overrides(json.loads((ROOT / "events" / "sam-env.json").read_text()), FUNCTION)
    assert given["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566"  # what `nodegate sample-store` listens on
    given["AWS_ENDPOINT_URL_S3"] = endpoint
    return function_environment(declared_variables(TEMPLATE, FUNCTION), given, {})


def in_package(
    python: str, task_root: Path, program: str, environment: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``program`` as Lambda would: from the built package alone (-S: no site-packages), in its task root."""
    return subprocess.run(
        [python, "-S", "-c", program],
        cwd=task_root,
        env=environment | {"LAMBDA_TASK_ROOT": str(task_root), "PYTHONPATH": str(task_root)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("sample", "effect", "reason"), SAMPLES)
def test_sam_local_invoke_rehearsal_on_the_sample_events(
    sample: str, effect: str, reason: str | None, sample_s3: str, task_root: Path, runtime_python: str
) -> None:
    program = (
        "import json, sys, app, nodegate_authorizer, cryptography\n"
        "print(app.__file__, nodegate_authorizer.__file__, cryptography.__file__, file=sys.stderr)\n"
        "print('python%d.%d' % sys.version_info[:2], file=sys.stderr)\n"
        "print(json.dumps(app.lambda_handler(json.load(sys.stdin), None)))\n"
    )
    event = (ROOT / "events" / f"{sample}.json").read_text()
    result = in_package(runtime_python, task_root, program, container_environment(sample_s3), event)
    assert result.returncode == 0, result.stderr
    imported, version = result.stderr.split("\n")[:2]
    assert all(path.startswith(str(task_root)) for path in imported.split()), result.stderr
    if runtime_python != sys.executable:
        assert version == TEMPLATE["Globals"]["Function"]["Runtime"]
    assert verdict(json.loads(result.stdout.strip().splitlines()[-1])) == (effect, reason)


def test_sam_env_file_survives_sams_rules() -> None:
    """SAM drops names the template does not declare and blanks intrinsics it cannot resolve: the file declares
    nothing else and sets every variable whose template value is an intrinsic."""
    variables = TEMPLATE["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    given = overrides(json.loads((ROOT / "events" / "sam-env.json").read_text()), FUNCTION)
    assert set(given) <= set(variables)
    assert {name for name, value in variables.items() if isinstance(value, Intrinsic)} <= set(given)
    local = overrides(json.loads((ROOT / "events" / "env.json").read_text()), FUNCTION)
    assert set(local) <= set(variables)


def test_environment_precedence_is_sams() -> None:
    """aws-sam-cli: file over shell over template; undeclared names dropped; a Ref takes the parameter's
    default, other intrinsics become ""; placeholder credentials when none are configured."""
    template = {
        "Parameters": {"Mode": {"Type": "String", "Default": "hard-fail"}},
        "Globals": {"Function": {"Environment": {"Variables": {"GLOBAL": "g"}}}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "A": "template",
                            "B": "template",
                            "C": "template",
                            "MODE": Intrinsic("Ref", "Mode"),
                            "URI": Intrinsic("Sub", "s3://${Bucket}/x"),
                            "FLAG": True,
                        }
                    }
                },
            }
        },
    }
    declared = declared_variables(template, "Fn")
    expected = {"GLOBAL": "g", "A": "template", "B": "template", "C": "template", "MODE": "hard-fail"}
    assert declared == expected | {"URI": "", "FLAG": "true"}
    given = overrides({"Parameters": {"A": "parameters", "B": "parameters"}, "Fn": {"A": "file", "EXTRA": 1}}, "Fn")
    environment = function_environment(declared, given, {"B": "shell", "C": "shell", "OTHER": "shell"})
    assert (environment["A"], environment["B"], environment["C"]) == ("file", "parameters", "shell")
    assert "EXTRA" not in environment
    assert "OTHER" not in environment
    assert (environment["AWS_ACCESS_KEY_ID"], environment["AWS_REGION"]) == ("defaultkey", "us-east-1")


def test_an_empty_s3_endpoint_variable_is_s3s_own_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The template declares AWS_ENDPOINT_URL_S3 as "" so that SAM may set it; with the pinned boto3 an empty
    value leaves S3's endpoint alone in AWS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "")
    assert boto3.client("s3", region_name="eu-west-1").meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert TEMPLATE["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]["AWS_ENDPOINT_URL_S3"] == ""


def test_crl_mirror_rehearsal_runs_from_the_package_alone(sample_s3: str, task_root: Path, runtime_python: str) -> None:
    """CrlMirrorFunction's Handler, mirror_app.lambda_handler, imports and runs from the built package alone
    (-S: no site-packages) with the template's environment: the refused loopback URL keeps the last good copy."""
    mirror = "CrlMirrorFunction"
    given = overrides(json.loads((ROOT / "events" / "sam-env.json").read_text()), FUNCTION)
    given = {name: value for name, value in given.items() if name in declared_variables(TEMPLATE, mirror)}
    given |= {"AWS_ENDPOINT_URL_S3": sample_s3, "CRL_MIRROR_URLS": "http://127.0.0.1:9/issuing.crl"}
    environment = function_environment(declared_variables(TEMPLATE, mirror), given, {})
    program = "import json, mirror_app\nprint(json.dumps(mirror_app.lambda_handler({}, None)))\n"
    result = in_package(runtime_python, task_root, program, environment | {"POWERTOOLS_METRICS_DISABLED": "true"})
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["error"] is None
    assert [(r["action"], "which revocation fetches may not reach" in r["why"]) for r in summary["results"]] == [
        ("kept-last-good", True)
    ]
