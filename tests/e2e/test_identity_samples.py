"""The identity-rule sample events (SPIFFE and email SANs, allowed and denied) through `nodegate invoke` and
`nodegate explain`, with the workload PKI and policy that `scripts/generate-test-pki --workloads` wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODEGATE = str(Path(sys.executable).parent / "nodegate")
ENV = "events/env-identity-rules.json"
SAMPLES = [
    ("spiffe-allow", "Allow", "spire"),
    ("spiffe-other-node", "Deny", "NODE_MISMATCH"),
    ("spiffe-two-ids", "Deny", "AMBIGUOUS_IDENTITY"),
    ("email-allow", "Allow", "mail"),
    ("email-other-domain", "Deny", "AMBIGUOUS_IDENTITY"),
]


def nodegate(*args: str) -> str:
    result = subprocess.run([NODEGATE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(("sample", "effect", "rule_or_reason"), SAMPLES)
def test_invoke_on_the_identity_samples(sample: str, effect: str, rule_or_reason: str) -> None:
    response = json.loads(nodegate("invoke", "-e", f"events/{sample}.json", "--env-vars", ENV))
    assert response["policyDocument"]["Statement"][0]["Effect"] == effect
    context = response["context"]
    assert (context["identityRule"] if effect == "Allow" else context["reason"]) == rule_or_reason
    if effect == "Allow":
        assert (context["userId"], context["nodeId"]) == ("alice", "node-1")


def test_the_samples_need_their_rules() -> None:
    """With the operators' settings (no identity rules) the SPIFFE sample is not even trusted: another PKI."""
    response = json.loads(nodegate("invoke", "-e", "events/spiffe-allow.json", "--env-vars", "events/env.json"))
    assert response["context"]["reason"] == "UNTRUSTED_ISSUER"


def test_explain_names_the_rule() -> None:
    shown = nodegate("explain", "-e", "events/email-allow.json", "--env-vars", ENV)
    assert "by identity rule mail" in shown
