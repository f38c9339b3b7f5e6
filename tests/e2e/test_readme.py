"""The README as people follow it: the operator quick start runs as written against a real `nodegate up` and prints
what the README says; SAM commands are written the way they run here; bench/run.py --help runs nothing."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from commands import NODEGATE, ROOT, serving
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


def deploy_step(number: int) -> str:
    """The text of step ``number`` of the README's deploy section."""
    section = README.split("## Deploy to AWS", 1)[1].split("\n### ", 1)[0]
    return section.split(f"\n{number}. ", 1)[1].split(f"\n{number + 1}. ", 1)[0]


def test_samconfig_and_the_readme_name_the_same_values_to_fill_in() -> None:
    """Issue 18 item 3: samconfig.toml said "two REPLACE_ME values", held three and the README listed four."""
    from aws_stand_in import TEMPLATE, sam_overrides, samconfig_deploy

    overrides = sam_overrides(samconfig_deploy(ROOT / "samconfig.toml")["parameter_overrides"])
    to_fill = {name for name, value in overrides.items() if "REPLACE_ME" in value}
    required = {name for name, slot in TEMPLATE["Parameters"].items() if "Default" not in slot}
    assert to_fill == required  # every parameter without a default, and nothing else
    header = (ROOT / "samconfig.toml").read_text().split("version = ", 1)[0]
    step = deploy_step(2)
    words = {6: "six"}
    assert f"the {words[len(to_fill)]} REPLACE_ME values" in header
    assert f"the {words[len(to_fill)]} `REPLACE_ME` values" in step
    assert set(re.findall(r"`([A-Za-z0-9]+)`", step.split("(or run", 1)[0])) == to_fill | {"region"}


def test_the_deploy_steps_come_in_the_order_a_newcomer_needs_them() -> None:
    """Issue 18 item 3: the certificate is requested and validated before its ARN is filled in; the version
    parameter exists before the first deploy; DNS comes once the domain exists."""
    assert "aws acm request-certificate" in deploy_step(1)
    assert "aws acm wait certificate-validated" in deploy_step(1)
    assert "`CertificateArn`" in deploy_step(2)
    assert "aws ssm put-parameter --name /nodegate/truststore-version" in deploy_step(3)
    assert "make deploy" in deploy_step(4)
    assert "scripts/publish-truststore" in deploy_step(5)
    assert "`ApiDomainHostedZoneId`" in deploy_step(8)
    for section in ("### Put node software behind it", "### Add a node, add an operator", "### Teardown"):
        assert section in README
    assert "### CA rotation: overlap, publish, retire" in README


def node_route_examples() -> list[str]:
    """NodeRoutes as the README and samconfig.toml show it, parsed by SAM CLI: samconfig.toml's commented line,
    the README's TOML lines and its command line."""
    import shlex
    import tomllib

    from aws_stand_in import sam_overrides

    commented = [
        line.strip().removeprefix("# ").rstrip(",")
        for line in (ROOT / "samconfig.toml").read_text().splitlines()
        if line.strip().startswith('# "NodeRoutes=')
    ]
    section = README.split("### Put node software behind it", 1)[1].split("\n### ", 1)[0]
    toml_block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0]
    words = shlex.split(command)
    assert words[:3] == [".venv/bin/sam", "deploy", "--parameter-overrides"]
    values = [tomllib.loads(f"x = [{line}]")["x"] for line in commented]
    values.append(tomllib.loads(f"x = [{toml_block}]")["x"])
    values.append(words[3:])
    parsed = [sam_overrides(value) for value in values]
    assert all(p.get("NodeUpstreamPorts", "9000") == "9000" for p in parsed)
    return [p["NodeRoutes"] for p in parsed]


def test_node_routes_examples_survive_sams_parser_and_stay_inside_the_vpc(tmp_path: Path) -> None:
    """Issue 18 item 4: the quoting shown reaches the stack as the JSON object (SAM's own parser), the pattern
    and the node backend accept it, and each upstream is on the node or inside the default VPC on the ports
    NodeUpstreamPorts opens."""
    import ipaddress
    from urllib.parse import urlsplit

    from aws_stand_in import TEMPLATE, sam_overrides
    from nodegate_node.server import load_routes

    parameters = TEMPLATE["Parameters"]
    pattern = parameters["NodeRoutes"]["AllowedPattern"]
    vpc = ipaddress.ip_network(parameters["VpcCidr"]["Default"])
    examples = node_route_examples()
    assert len(examples) == 3
    for text in examples:
        assert re.fullmatch(pattern, text), text
        (tmp_path / "routes.json").write_text(text)
        for url in load_routes(str(tmp_path / "routes.json")).values():
            host = ipaddress.ip_address(urlsplit(url).hostname or "")
            assert host.is_loopback or (host in vpc and urlsplit(url).port == 9000), url
    assert sam_overrides('NodeRoutes={"node-1": "http://127.0.0.1:9000"}')["NodeRoutes"] == "{"  # the trap shown
    assert not re.fullmatch(pattern, "{")
