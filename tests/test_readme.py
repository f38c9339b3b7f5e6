"""The README as people follow it: the operator quick start runs as written against a real `nodegate up` and prints
what the README says; SAM commands are written the way they run here; bench/run.py --help runs nothing."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from test_cli import NODEGATE, ROOT, serving

from nodegate.local.stack import free_port

README = (ROOT / "README.md").read_text()


def quick_start() -> tuple[list[str], list[str]]:
    """The quick start's commands (continuation lines joined) and its ``# output`` comment lines."""
    block = README.split("### Operator quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip() and not c.startswith("#")]
    outputs = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    return commands, outputs


def shows(sample: str, output: str) -> bool:
    """Whether ``output`` reads as the README's ``sample``, where ``...`` stands for anything."""
    pattern = ".*".join(re.escape(part.strip()) for part in sample.split("..."))
    return re.search(pattern, output, re.DOTALL) is not None


def test_the_operator_quick_start_runs_as_written(tmp_path: Path) -> None:
    commands, outputs = quick_start()
    assert [c.split()[:2] for c in commands[:2]] == [[".venv/bin/nodegate", "up"], ["P=.nodegate/pki", "#"]]
    commands = commands[1:]  # `up` is started below, on a free port instead of 8443
    assert [c.split()[0] for c in commands[1:]] == ["curl", ".venv/bin/nodegate", "curl", "AWS_ACCESS_KEY_ID=testing"]
    port = free_port()
    (tmp_path / ".venv").symlink_to(Path(NODEGATE).parent.parent)
    with serving("up", "--port", str(port), cwd=tmp_path):

        def shell(command: str) -> str:
            script = commands[0] + "\n" + command.replace("127.0.0.1:8443", f"127.0.0.1:{port}")
            return subprocess.run(
                ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
            ).stdout

        whoami = json.loads(shell(commands[1]))
        assert whoami == json.loads(outputs[0])  # the field names and values as the node returns them
        assert shows(outputs[1], shell(commands[2]))
        expected = json.loads(outputs[2].split("   ")[0].replace('"..."', '""'))
        deadline = time.monotonic() + 20
        while (refused := json.loads(shell(commands[3]))).get("reason") != expected["reason"]:
            assert time.monotonic() < deadline, refused
            time.sleep(0.5)
        assert refused.keys() == expected.keys()
        assert refused["message"] == expected["message"]
        assert shows(outputs[3], shell(commands[4]))


def test_sam_commands_are_written_as_they_run_here() -> None:
    """SAM lives in .venv: every command line in a code block calls `make` or `.venv/bin/sam`, never a bare `sam`."""
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    assert not [line for line in lines if re.match(r"(.*&& )?sam ", line)]
    assert "make build && .venv/bin/sam local invoke" in README


def test_bench_help_prints_usage_and_runs_nothing() -> None:
    results = ROOT / ".cache" / "bench-results.md"
    before = results.stat().st_mtime_ns if results.exists() else None
    started = time.monotonic()
    helped = subprocess.run(
        [str(Path(NODEGATE).parent / "python"), "bench/run.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: run.py")
    assert "--record" in helped.stdout
    assert time.monotonic() - started < 15
    assert (results.stat().st_mtime_ns if results.exists() else None) == before
