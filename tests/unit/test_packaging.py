"""Every dependency of the Lambda package is pinned, its closure included, and pyproject.toml says the same pins
as the requirements files."""

from __future__ import annotations

import tomllib
from importlib.metadata import requires
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def requirements(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-r")}


def test_pins_agree_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = requirements(ROOT / "src" / "authorizer" / "requirements.txt")
    dev = requirements(ROOT / "requirements.txt") | requirements(ROOT / "requirements-demo.txt")
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    assert declared == runtime | dev
    assert all("==" in pin for pin in declared)
    assert runtime <= set(project["dependencies"])


def test_the_lambda_package_pins_its_whole_closure() -> None:
    """Each pinned distribution's requirements that apply on the Lambda (python3.12, linux, arm64) are pinned
    too, at versions their specifiers accept: `sam build` resolves nothing on its own."""
    pins = {
        canonicalize_name(req.name): str(req.specifier).removeprefix("==")
        for req in map(Requirement, requirements(ROOT / "src" / "authorizer" / "requirements.txt"))
    }
    lambda_runtime = default_environment() | {
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "platform_machine": "aarch64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
    }
    needed = {}
    for name in pins:
        for line in requires(name) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(lambda_runtime | {"extra": ""}):
                needed[canonicalize_name(req.name)] = (name, req.specifier)
    assert set(needed) <= set(pins), f"unpinned: {sorted(set(needed) - set(pins))}"
    for dependency, (requirer, specifier) in needed.items():
        assert specifier.contains(pins[dependency], prereleases=True), (requirer, dependency, specifier)


def test_make_demo_installs_only_what_the_demo_needs(tmp_path: Path) -> None:
    """`make demo` on a fresh clone installs requirements-demo.txt (Lambda pins, moto, the CLI), not the toolchain."""
    import subprocess

    planned = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / '.venv'}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "scripts/ensure-venv requirements-demo.txt" in planned
    assert "ensure-venv requirements.txt" not in planned
    demo = requirements(ROOT / "requirements-demo.txt") | requirements(ROOT / "src" / "authorizer" / "requirements.txt")
    names = {canonicalize_name(Requirement(pin).name) for pin in demo}
    assert {"moto", "flask", "flask-cors"} <= names
    assert not [pin for pin in demo if "server" in Requirement(pin).extras]  # every moto service's dependencies
    assert not names & {"pytest", "hypothesis", "mypy", "aws-sam-cli", "cfn-lint", "ruff", "pyhanko-certvalidator"}
