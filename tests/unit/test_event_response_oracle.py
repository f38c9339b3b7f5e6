"""The event boundary and the IAM policies are read and built by hand (decision 16); Powertools' own data classes
stay the oracle: for generated method ARNs, events, grants and reasons, ours and theirs agree, including on what
they refuse."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
    APIGatewayRouteArn,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from nodegate_authorizer.access_policy import Grant
from nodegate_authorizer.event import METHOD_ARN, Route, parse_event, parse_route
from nodegate_authorizer.identity import Identity
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.response import allow_response, deny_response
from nodegate_dev.world import event

ARNS = st.from_regex(METHOD_ARN, fullmatch=True)
NODE_IDS = st.text(st.sampled_from("aZ09._-*{}+@/: é"), min_size=1, max_size=12)
"""Node ids with the characters Powertools accepts in a resource path and some it refuses."""
METHODS = st.frozensets(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]), min_size=1)


def fields(route: Route | APIGatewayRouteArn) -> tuple[object, ...]:
    return (
        route.partition,
        route.region,
        route.aws_account_id,
        route.api_id,
        route.stage,
        route.http_method,
        route.resource,
    )


def powertools_response(principal: str, route: Route | None, context: dict[str, Any] | None = None) -> Any:
    if route is None:
        return APIGatewayAuthorizerResponse(principal, "*", "*", "*", "*", context=context)
    return APIGatewayAuthorizerResponse(
        principal, route.region, route.aws_account_id, route.api_id, route.stage, context, partition=route.partition
    )


@given(arn=ARNS)
def test_a_method_arn_splits_as_powertools_splits_it(arn: str) -> None:
    """Where the path holds no ':' (there Powertools cuts the path, see below)."""
    assume(":" not in arn.split(":", 5)[5])
    theirs = APIGatewayAuthorizerRequestEvent({"type": "REQUEST", "methodArn": arn}).parsed_arn
    assert fields(parse_route(arn)) == fields(theirs)


@pytest.mark.parametrize("path", ["nodes/node-1/blocks/abc:def", "nodes/node-1/whoami:x", "nodes/node-1/a:b:c/d"])
def test_a_colon_in_the_path_stays_in_the_resource(path: str) -> None:
    """RFC 3986 3.3 allows ':' in a path segment; only the first five ':' of an execute-api ARN separate its fields
    (review rev-D: the path was cut at its first ':', so the assertion named another path and the node refused)."""
    route = parse_route(f"arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/{path}")
    assert (route.stage, route.http_method, route.resource) == ("prod", "GET", path)


@given(node=st.text(min_size=1, max_size=12), method=st.sampled_from(["GET", "POST", "DELETE"]), tail=st.text())
def test_an_event_reads_as_powertools_reads_it(node: str, method: str, tail: str) -> None:
    raw = event(b"PEM", node, method, tail)
    try:
        ours = parse_event(raw)
    except Denied as denied:
        reason = denied.reason
        assert reason is Reason.BAD_REQUEST
        return
    theirs = APIGatewayAuthorizerRequestEvent(raw)
    assume(":" not in raw["methodArn"].split(":", 5)[5])  # there Powertools cuts the path (test below)
    assert fields(ours.route) == fields(theirs.parsed_arn)
    assert ours.method == theirs.parsed_arn.http_method
    assert ours.node_id == theirs.path_parameters["nodeId"]
    assert ours.client_cert_pem == theirs.request_context.identity.client_cert.client_cert_pem  # type: ignore[union-attr]


def powertools_allow(principal: str, route: Route, grant: Grant) -> dict[str, Any]:
    response = powertools_response(principal, route)
    for method in sorted(grant.methods):
        response.allow_route(method, f"nodes/{grant.node_id}")
        response.allow_route(method, f"nodes/{grant.node_id}/*")
    return response.asdict()  # type: ignore[no-any-return]


@given(arn=ARNS, user=st.text(min_size=1, max_size=8), node=NODE_IDS, methods=METHODS)
def test_an_allow_is_the_policy_powertools_builds_or_refused_as_it_refuses(
    arn: str, user: str, node: str, methods: frozenset[str]
) -> None:
    route, grant = parse_route(arn), Grant(node, methods)
    try:
        theirs = powertools_allow(user, route, grant)
    except ValueError:
        with pytest.raises(ValueError):
            allow_response(route, Identity(user, "n", "CN=n"), grant, {})
        return
    ours = allow_response(route, Identity(user, "n", "CN=n"), grant, {"clientCertSerial": "01"})
    assert ours["principalId"] == theirs["principalId"] == user
    assert ours["policyDocument"] == theirs["policyDocument"]


@given(route=st.none() | ARNS.map(parse_route), reason=st.sampled_from(list(Reason)), principal=st.text(max_size=8))
def test_a_deny_is_the_response_powertools_builds(route: Route | None, reason: Reason, principal: str) -> None:
    theirs = powertools_response(principal or "anonymous", route, {"reason": reason.value})
    theirs.deny_all_routes()
    assert deny_response(reason, route, principal or "anonymous") == theirs.asdict()
