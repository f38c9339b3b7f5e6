"""Authorizer responses: node-scoped Allow policies and Deny-everything policies (the IAM policy document of
API Gateway's Lambda authorizer output).

Built by hand in the shape Powertools' ``APIGatewayAuthorizerResponse`` builds (its data classes package imports
every event class: ~45 ms of a cold start); ``tests/unit/test_event_response_oracle.py`` compares the two for
generated principals, routes, grants and reasons (docs/decisions.md, decision 16)."""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Any

from .access_policy import Grant
from .event import Route
from .identity import Identity
from .reasons import Reason

VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "HEAD", "DELETE", "OPTIONS", "*"})
RESOURCE = re.compile(r"^[/.a-zA-Z0-9\-_\*\{\}\+]+$")
"""The resource paths Powertools accepts in a policy; any other raises ValueError (an INTERNAL_ERROR Deny)."""
Api = tuple[str, str, str, str, str]
"""(partition, region, account, API id, stage) of a route: what a policy's resources name."""
ANY_API: Api = ("aws", "*", "*", "*", "*")


def _api(route: Route) -> Api:
    return route.partition, route.region, route.aws_account_id, route.api_id, route.stage


def _resource(api: Api, method: str, path: str) -> str:
    """The execute-api ARN of ``method`` on ``path`` of an API stage."""
    if method not in VERBS:
        raise ValueError(f"Invalid HTTP verb: {method!r}")
    if not RESOURCE.match(path):
        raise ValueError(f"Invalid resource path: {path!r}")
    partition, region, account, api_id, stage = api
    return f"arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def _document(effect: str, resources: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resources}],
    }


def allow_response(
    route: Route,
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
        "policyDocument": _copy(_allow_policy(_api(route), grant)),
        "context": context,
    }


@lru_cache(maxsize=1024)
def _allow_policy(api: Api, grant: Grant) -> dict[str, Any]:
    """The Allow policy document of a (API stage, grant): it depends on nothing else, so it is built once (copied
    out by ``_copy``, never handed out itself)."""
    if not grant.methods:
        raise ValueError("No statements defined for the policy")
    resources = [
        _resource(api, method, path)
        for method in sorted(grant.methods)
        for path in (f"nodes/{grant.node_id}", f"nodes/{grant.node_id}/*")
    ]
    return _document("Allow", resources)


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a policy document deep enough that a caller changing it cannot change the cached one."""
    statements = [{k: list(v) if isinstance(v, list) else v for k, v in s.items()} for s in document["Statement"]]
    return {**document, "Statement": statements}


def deny_response(reason: Reason, route: Route | None, principal: str = "anonymous") -> dict[str, Any]:
    """Deny every method of the API (or every API, when the event could not be read)."""
    api = ANY_API if route is None else _api(route)
    return {
        "principalId": principal,
        "policyDocument": _document("Deny", [_resource(api, "*", "*")]),
        "context": {"reason": reason.value},
    }
