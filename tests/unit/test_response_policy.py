"""The Allow policy document is built once per (principal, API stage, grant) and copied out: it
equals what Powertools builds for every request, and a caller changing one response cannot change the next."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerResponse
from hypothesis import given
from hypothesis import strategies as st

from nodegate_authorizer.access_policy import Grant
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.identity import Identity
from nodegate_authorizer.response import allow_response
from nodegate_dev.world import event

IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
METHODS = st.frozensets(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]), min_size=1)


def powertools_allow(principal: str, route: Any, grant: Grant) -> dict[str, Any]:
    """The response the handler built before the cache: Powertools, per request."""
    response = APIGatewayAuthorizerResponse(
        principal, route.region, route.aws_account_id, route.api_id, route.stage, partition=route.partition
    )
    for method in sorted(grant.methods):
        response.allow_route(method, f"nodes/{grant.node_id}")
        response.allow_route(method, f"nodes/{grant.node_id}/*")
    return response.asdict()["policyDocument"]  # type: ignore[no-any-return]


@given(user=IDS, node=IDS, cert_node=IDS, methods=METHODS)
def test_the_cached_policy_is_the_one_powertools_builds(
    user: str, node: str, cert_node: str, methods: frozenset[str]
) -> None:
    route = parse_event(event(b"PEM", node)).route
    grant = Grant(node, methods)
    response = allow_response(route, Identity(user, cert_node, f"CN={cert_node}"), grant, {})
    assert response["principalId"] == user
    assert response["policyDocument"] == powertools_allow(user, route, grant)


def test_a_changed_response_does_not_change_the_next() -> None:
    identity = Identity("alice", "node-1", "CN=node-1")
    grant = Grant("node-1", frozenset({"GET"}))
    first = allow_response(parse_event(event(b"PEM", "node-1")).route, identity, grant, {})
    expected = powertools_allow("alice", parse_event(event(b"PEM", "node-1")).route, grant)
    first["policyDocument"]["Statement"][0]["Resource"].append("arn:aws:execute-api:*")
    first["policyDocument"]["Statement"].append({"Effect": "Allow"})
    second = allow_response(parse_event(event(b"PEM", "node-1")).route, identity, grant, {})
    assert second["policyDocument"] == expected
