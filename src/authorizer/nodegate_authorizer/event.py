"""The REST API REQUEST authorizer event, read into the few fields a decision needs.

Read by hand rather than through Powertools' data classes, whose package imports every event class (~45 ms of a
cold start); ``tests/unit/test_event_response_oracle.py`` checks ``Route`` against Powertools' ``APIGatewayRouteArn``
for generated method ARNs (docs/decisions.md, decision 16)."""

from __future__ import annotations

import re
from typing import NamedTuple

from .reasons import Denied, Reason

METHOD_ARN = re.compile(
    r"arn:aws[a-z-]*:execute-api:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9]+/[A-Za-z0-9_-]+/"
    r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)/nodes/[^/]+(/.*)?"
)
MAX_ARN_LENGTH = 4096


class Route(NamedTuple):
    """A REST method ARN's parts, as Powertools' ``parse_api_gateway_arn`` names them, but split on the first five
    ``:`` only (the path may hold ``:``, RFC 3986 3.3; Powertools cuts it there) and on ``/``; the resource
    without its leading ``/``."""

    partition: str
    region: str
    aws_account_id: str
    api_id: str
    stage: str
    http_method: str
    resource: str


def parse_route(arn: str) -> Route:
    """The parts of a method ARN ``arn:<partition>:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>``
    (checked against ``METHOD_ARN`` first; an ARN of another shape raises IndexError, as Powertools does)."""
    parts = arn.split(":", 5)
    api = parts[5].split("/")
    return Route(parts[1], parts[3], parts[4], api[0], api[1], api[2], "/".join(api[3:]).lstrip("/"))


class AuthRequest(NamedTuple):
    """What the decision reads from the event: the client PEM, the target node, the method and the route."""

    client_cert_pem: str | None
    node_id: str
    method: str
    route: Route


def parse_event(event: object) -> AuthRequest:
    """Read the event; raise Denied(BAD_REQUEST) when it is not a REQUEST event for ``/nodes/{nodeId}``."""
    if not isinstance(event, dict):
        raise Denied(Reason.BAD_REQUEST, "event is not a JSON object")
    method_arn = event.get("methodArn")
    if event.get("type") != "REQUEST" or not isinstance(method_arn, str) or len(method_arn) > MAX_ARN_LENGTH:
        raise Denied(Reason.BAD_REQUEST, "not a REQUEST authorizer event with a methodArn")
    if not METHOD_ARN.fullmatch(method_arn):
        raise Denied(Reason.BAD_REQUEST, f"methodArn {method_arn[:200]!r} is not a /nodes/{{nodeId}} method")
    route = parse_route(method_arn)
    params = event.get("pathParameters")
    node_id = params.get("nodeId") if isinstance(params, dict) else None
    if not isinstance(node_id, str):
        raise Denied(Reason.BAD_REQUEST, "pathParameters.nodeId is missing")
    if route.resource.split("/")[1] != node_id:
        raise Denied(Reason.BAD_REQUEST, "pathParameters.nodeId does not match the methodArn")
    context = event.get("requestContext")
    identity = context.get("identity") if isinstance(context, dict) else None
    cert = identity.get("clientCert") if isinstance(identity, dict) else None
    if cert is not None and not isinstance(cert, dict):
        raise Denied(Reason.BAD_REQUEST, "requestContext.identity.clientCert is not an object")
    pem = cert.get("clientCertPem") if cert is not None else None
    if pem is not None and not isinstance(pem, str):
        raise Denied(Reason.BAD_REQUEST, "clientCertPem is not a string")
    return AuthRequest(client_cert_pem=pem or None, node_id=node_id, method=route.http_method, route=route)
