"""Authorizer responses: node-scoped Allow policies and Deny-everything policies, built with Powertools."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayRouteArn,
)

from .access_policy import Grant
from .identity import Identity
from .reasons import Reason


def _builder(principal: str, route: APIGatewayRouteArn | None, context: dict[str, Any]) -> APIGatewayAuthorizerResponse:
    if route is None:
        return APIGatewayAuthorizerResponse(principal, "*", "*", "*", "*", context=context)
    return APIGatewayAuthorizerResponse(
        principal,
        route.region,
        route.aws_account_id,
        route.api_id,
        route.stage,
        context=context,
        partition=route.partition,
    )


def allow_response(
    route: APIGatewayRouteArn,
    identity: Identity,
    grant: Grant,
    certificate: dict[str, str],
    assertion: str | None = None,
) -> dict[str, Any]:
    """Allow only ``nodes/{node}`` and ``nodes/{node}/*`` for the granted methods, never ``*``; the context
    carries the signed ``assertion`` for the node when there is one."""
    context = {
        "userId": identity.user_id,
        "nodeId": grant.node_id,
        "certNodeId": identity.node_id,
        "identityRule": identity.rule,
        "clientCertSub": base64.b64encode(identity.subject.encode()).decode(),
        **certificate,
    }
    if assertion is not None:
        context["assertion"] = assertion
    response = _builder(identity.user_id, route, context)
    for method in sorted(grant.methods):
        response.allow_route(method, f"nodes/{grant.node_id}")
        response.allow_route(method, f"nodes/{grant.node_id}/*")
    return response.asdict()


def deny_response(reason: Reason, route: APIGatewayRouteArn | None, principal: str = "anonymous") -> dict[str, Any]:
    """Deny every method of the API (or every API, when the event could not be read)."""
    response = _builder(principal, route, {"reason": reason.value})
    response.deny_all_routes()
    return response.asdict()
