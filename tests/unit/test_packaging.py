"""Every direct dependency is pinned, and pyproject.toml says the same pins as the requirements files."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def requirements(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("-r")}


def test_pins_agree_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = requirements(ROOT / "src" / "authorizer" / "requirements.txt")
    dev = requirements(ROOT / "requirements.txt")
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    assert declared == runtime | dev
    assert all("==" in pin for pin in declared)
    assert runtime <= set(project["dependencies"])
