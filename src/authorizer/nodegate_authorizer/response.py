"""Authorizer responses: node-scoped Allow policies and Deny-everything policies, built with Powertools."""

from __future__ import annotations

import base64
from functools import lru_cache
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
    return {
        "principalId": identity.user_id,
        "policyDocument": _copy(_allow_policy(identity.user_id, _api(route), grant)),
        "context": context,
    }


Api = tuple[str, str, str, str, str]
"""(partition, region, account, API id, stage) of a route: what an Allow policy's resources name."""


def _api(route: APIGatewayRouteArn) -> Api:
    return route.partition, route.region, route.aws_account_id, route.api_id, route.stage


@lru_cache(maxsize=1024)
def _allow_policy(principal: str, api: Api, grant: Grant) -> dict[str, Any]:
    """The Allow policy document Powertools builds for a (principal, API stage, grant): it depends on nothing
    else, so it is built once (copied out by ``_copy``, never handed out itself)."""
    partition, region, account, api_id, stage = api
    response = APIGatewayAuthorizerResponse(principal, region, account, api_id, stage, partition=partition)
    for method in sorted(grant.methods):
        response.allow_route(method, f"nodes/{grant.node_id}")
        response.allow_route(method, f"nodes/{grant.node_id}/*")
    document: dict[str, Any] = response.asdict()["policyDocument"]
    return document


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a policy document deep enough that a caller changing it cannot change the cached one."""
    statements = [{k: list(v) if isinstance(v, list) else v for k, v in s.items()} for s in document["Statement"]]
    return {**document, "Statement": statements}


def deny_response(reason: Reason, route: APIGatewayRouteArn | None, principal: str = "anonymous") -> dict[str, Any]:
    """Deny every method of the API (or every API, when the event could not be read)."""
    response = _builder(principal, route, {"reason": reason.value})
    response.deny_all_routes()
    return response.asdict()
