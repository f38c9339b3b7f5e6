"""`scripts/mutation-runner`, the test command `make mutate` gives mutmut: it must collect its tests on the
unmutated tree. A path it names that no longer exists fails it for every mutant, and mutmut 2 then counts each one
as killed."""

from __future__ import annotations

import subprocess

from commands import ROOT


def test_the_mutation_runner_collects_its_tests() -> None:
    result = subprocess.run(
        ["sh", "scripts/mutation-runner", "--collect-only"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, "scripts/mutation-runner cannot collect its tests: check the paths it names"
