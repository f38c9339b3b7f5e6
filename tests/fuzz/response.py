"""The shape every authorizer response must have, whatever the input."""

from __future__ import annotations

import re
from typing import Any


def well_formed(response: Any) -> str:
    """Assert the response shape API Gateway accepts; return the effect."""
    assert isinstance(response, dict)
    assert isinstance(response["principalId"], str)
    statements = response["policyDocument"]["Statement"]
    assert response["policyDocument"]["Version"] == "2012-10-17"
    effects = {s["Effect"] for s in statements}
    assert len(effects) == 1
    for value in response.get("context", {}).values():
        assert isinstance(value, (str, int, bool))
    effect = effects.pop()
    if effect == "Allow":
        for statement in statements:
            for resource in statement["Resource"]:
                assert re.search(r"/nodes/[A-Za-z0-9._-]+(/\*)?$", resource), resource
                assert not resource.endswith("/*/*")
    return effect
