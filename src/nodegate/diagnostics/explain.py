"""``nodegate explain``: run the authorizer's own decision on a certificate and show every step and its verdict.

Nothing here decides: ``decide()`` does, with the runtime the settings build; this module only renders the
value it returns (the path, each revocation answer, the identity, the grant) and the response it makes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from nodegate_authorizer.certificates import extension, serial_hex
from nodegate_authorizer.decision import Allowed, Refused, decide
from nodegate_authorizer.event import AuthRequest, parse_event
from nodegate_authorizer.handler import respond
from nodegate_authorizer.names import is_self_issued
from nodegate_authorizer.reasons import Denied, Reason
from nodegate_authorizer.revocation.answers import RevocationOutcome
from nodegate_authorizer.runtime import Runtime
from nodegate_authorizer.settings import ConfigError

PURPOSES = {
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _signature(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return cert.signature_algorithm_oid.dotted_string
    return f"{algorithm.name if algorithm else 'EdDSA'} signature"


def _key(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removesuffix("PublicKey").lstrip("_")


def _certificate(cert: x509.Certificate, role: str) -> dict[str, Any]:
    constraints = extension(cert, x509.BasicConstraints)
    usage = extension(cert, x509.KeyUsage)
    purposes = extension(cert, x509.ExtendedKeyUsage)
    usages = [name for name in ("digital_signature", "key_cert_sign", "crl_sign") if usage and getattr(usage, name)]
    return {
        "role": role,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_hex(cert),
        "notBefore": cert.not_valid_before_utc.isoformat(),
        "notAfter": cert.not_valid_after_utc.isoformat(),
        "key": _key(cert),
        "signature": _signature(cert),
        "ca": bool(constraints and constraints.ca),
        "pathLen": constraints.path_length if constraints else None,
        "keyUsage": usages if usage else None,
        "extendedKeyUsage": [PURPOSES.get(p, p.dotted_string) for p in purposes] if purposes else None,
        "selfIssued": is_self_issued(cert),
    }


def _revocation(outcome: RevocationOutcome | None, now: datetime) -> list[dict[str, Any]]:
    if outcome is None:
        return []
    return [
        {
            "certificate": result.role,
            "serial": result.serial,
            "answers": [
                {
                    "source": answer.source,
                    "status": answer.status.value,
                    "detail": answer.detail,
                    "ageSeconds": round((now - answer.produced_at).total_seconds()) if answer.produced_at else None,
                    "validUntil": answer.valid_until.isoformat() if answer.valid_until else None,
                }
                for answer in result.answers
            ],
        }
        for result in outcome.results
    ]


def explain(event: dict[str, Any], get_runtime: Callable[[], Runtime], now: datetime) -> dict[str, Any]:
    """The decision on ``event`` with every fact it rests on, as a JSON-ready report. The steps run in the
    handler's order: the event, then the runtime (settings that do not load are CONFIG_INVALID), then decide."""
    report: dict[str, Any] = {"time": now.isoformat(), "revocationMode": None}
    request: AuthRequest | None = None
    try:
        request = parse_event(event)
        runtime = get_runtime()
        report["revocationMode"] = runtime.settings.revocation_mode.value
        decision: Allowed | Refused = decide(request, runtime.inputs(), now)
    except Denied as denied:
        decision = Refused(denied.reason, denied.detail)
    except ConfigError as exc:
        decision = Refused(Reason.CONFIG_INVALID, str(exc))
    roles = ["leaf", *(f"intermediate {n}" for n in range(1, len(decision.path) - 1)), "anchor"]
    report["path"] = [_certificate(cert, role) for cert, role in zip(decision.path, roles, strict=False)]
    report["revocation"] = _revocation(decision.revocation, now)
    if isinstance(decision, Allowed):
        report["decision"] = "Allow"
        report["identity"] = {
            "userId": decision.identity.user_id,
            "nodeId": decision.identity.node_id,
            "subject": decision.identity.subject,
            "rule": decision.identity.rule,
        }
        own = decision.grant.node_id == decision.identity.node_id
        report["grant"] = {
            "nodeId": decision.grant.node_id,
            "methods": sorted(decision.grant.methods),
            "rule": "the certificate's own node" if own else "a grant in the access policy",
        }
    else:
        report |= {"decision": "Deny", "reason": decision.reason.value, "detail": decision.detail}
    report["certificate"] = dict(decision.certificate)
    report["response"] = respond(decision, request)
    return report


def for_node(event: dict[str, Any], node: str) -> dict[str, Any]:
    """``event`` re-aimed at ``node``: its ``nodeId`` path parameter, paths and methodArn (``explain -e --node``)."""
    params = event.get("pathParameters") if isinstance(event, dict) else None
    old = params.get("nodeId") if isinstance(params, dict) else None
    if not isinstance(params, dict) or not isinstance(old, str):
        raise ValueError("the event has no pathParameters.nodeId for --node to replace; edit the event instead")
    segment = re.compile(rf"/nodes/{re.escape(old)}(?=/|$)")

    def aimed(value: Any) -> Any:
        return segment.sub(f"/nodes/{node}", value, count=1) if isinstance(value, str) else value

    context = event.get("requestContext")
    return event | {
        "pathParameters": params | {"nodeId": node},
        "methodArn": aimed(event.get("methodArn")),
        "path": aimed(event.get("path")),
        **({"requestContext": context | {"path": aimed(context.get("path"))}} if isinstance(context, dict) else {}),
    }


def render(report: dict[str, Any]) -> str:
    """The report as text, one step per block."""
    mode = report["revocationMode"] or "not loaded"
    lines = [f"nodegate explain at {report['time']} (REVOCATION_MODE={mode})", ""]
    lines.append("1. certificate path" + ("" if report["path"] else ": none found"))
    for cert in report["path"]:
        lines.append(f"   {cert['role']}: {cert['subject']}")
        lines.append(f"      issuer {cert['issuer']}, serial {cert['serial']}, {cert['key']}, {cert['signature']}")
        lines.append(
            f"      valid {cert['notBefore']} .. {cert['notAfter']}; CA={cert['ca']} pathLen={cert['pathLen']}"
        )
        if cert["keyUsage"] is not None or cert["extendedKeyUsage"] is not None:
            lines.append(f"      keyUsage {cert['keyUsage']}, extendedKeyUsage {cert['extendedKeyUsage']}")
    if report["path"]:
        lines.append("   -> RFC 5280 path validation passed (signatures, validity, CA rules, constraints, policies)")
    lines.append("2. revocation" + ("" if report["revocation"] else ": not reached or not checked"))
    for result in report["revocation"]:
        lines.append(f"   {result['certificate']} (serial {result['serial']})")
        for answer in result["answers"] or [{"source": "-", "status": "no source", "detail": "", "ageSeconds": None}]:
            age = f", {answer['ageSeconds']} s old" if answer.get("ageSeconds") is not None else ""
            lines.append(f"      {answer['source']}: {answer['status'].upper()}{age} - {answer['detail']}")
    if report["decision"] == "Allow":
        identity, grant = report["identity"], report["grant"]
        lines.append(
            f"3. identity: user {identity['userId']}, node {identity['nodeId']} ({identity['subject']}),"
            f" by identity rule {identity['rule']}"
        )
        lines.append(f"4. policy: node {grant['nodeId']}, methods {grant['methods']}, by {grant['rule']}")
        lines.append("5. response: Allow for " + ", ".join(_resources(report["response"])))
    else:
        lines.append(f"=> Deny {report['reason']}: {report['detail']}")
    return "\n".join(lines)


def _resources(response: dict[str, Any]) -> list[str]:
    return [str(r) for s in response["policyDocument"]["Statement"] for r in s["Resource"]]
