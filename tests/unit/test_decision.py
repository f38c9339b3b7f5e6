"""decide() is a value, and make_handler binds a handler to a runtime and a clock: no environment, no sleeps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from fixed import NOW, T0, client, crl_bytes, root, sub
from nodegate.pki.authority import pem
from nodegate_authorizer.decision import Allowed, Refused, decide
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.handler import make_handler
from nodegate_authorizer.reasons import Reason
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import load_settings
from nodegate_dev.world import decision, event


def runtime_in(folder: Path, *cas: object, crls: dict[str, bytes] | None = None, **env: str) -> object:
    (folder / "truststore.pem").write_bytes(pem(*cas))  # type: ignore[arg-type]
    (folder / "crls").mkdir(exist_ok=True)
    for name, data in (crls or {}).items():
        (folder / "crls" / name).write_bytes(data)
    settings = {
        "TRUSTSTORE_URI": (folder / "truststore.pem").as_uri(),
        "CRL_STORE_URI": (folder / "crls").as_uri(),
        "REVOCATION_MODE": "require",
    } | env
    return build_runtime(load_settings(settings))


def test_decide_returns_allowed_or_refused(tmp_path: Path) -> None:
    top = root()
    ca = sub(top)
    alice = client(ca, with_crl_url=False, with_ocsp_url=False)
    mallory = client(ca, "mallory", with_crl_url=False, with_ocsp_url=False)
    crls = {"root.crl": crl_bytes(top), "ca.crl": crl_bytes(ca, [mallory.cert.serial_number])}
    inputs = runtime_in(tmp_path, top.cert, ca.cert, crls=crls).inputs()  # type: ignore[attr-defined]
    allowed = decide(parse_event(event(alice.cert_pem())), inputs, NOW)
    assert isinstance(allowed, Allowed)
    assert allowed.identity.user_id == "alice"
    assert allowed.revocation.checked == 2
    revoked = decide(parse_event(event(mallory.cert_pem())), inputs, NOW)
    assert isinstance(revoked, Refused)
    assert revoked.reason == Reason.REVOKED
    assert revoked.certificate["clientCertSerial"] == format(mallory.cert.serial_number, "x")
    assert decide(parse_event(event(None)), inputs, NOW) == Refused(Reason.NO_CLIENT_CERT, revoked_detail_none())
    stranger = client(root("Stranger Root"), with_crl_url=False, with_ocsp_url=False)
    untrusted = decide(parse_event(event(stranger.cert_pem())), inputs, NOW)
    assert isinstance(untrusted, Refused)
    assert (untrusted.reason, untrusted.path, untrusted.revocation) == (Reason.UNTRUSTED_ISSUER, (), None)
    garbage = decide(parse_event(event("-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n")), inputs, NOW)
    assert isinstance(garbage, Refused)
    assert garbage.reason == Reason.MALFORMED_CERT
    assert garbage.certificate == {}


def revoked_detail_none() -> str:
    return "no client certificate in requestContext.identity.clientCert"


def test_make_handler_uses_its_runtime_and_clock(tmp_path: Path) -> None:
    top = root()
    ca = sub(top)
    alice = client(ca, with_crl_url=False, with_ocsp_url=False, days=365)
    runtime = runtime_in(tmp_path, top.cert, ca.cert, REVOCATION_MODE="off")
    at_now = make_handler(runtime, clock=lambda: NOW)  # type: ignore[arg-type]
    assert decision(at_now(event(alice.cert_pem()), None)) == ("Allow", None)
    expired = make_handler(runtime, clock=lambda: T0 + dt.timedelta(days=366))  # type: ignore[arg-type]
    assert decision(expired(event(alice.cert_pem()), None)) == ("Deny", "EXPIRED")
    early = make_handler(runtime, clock=lambda: T0 - dt.timedelta(days=1))  # type: ignore[arg-type]
    assert decision(early(event(alice.cert_pem()), None)) == ("Deny", "NOT_YET_VALID")
    assert decision(at_now({"type": "TOKEN"}, None)) == ("Deny", "BAD_REQUEST")


def test_a_leaf_with_a_duplicate_extension_is_malformed(tmp_path: Path) -> None:
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509 as asn1_x509

    top = root()
    ca = sub(top)
    original = asn1_x509.Certificate.load(client(ca).cert.public_bytes(Encoding.DER))
    tbs = original["tbs_certificate"]
    extensions = tbs["extensions"]
    extensions.append(asn1_x509.Extension.load(extensions[0].dump()))
    tbs["extensions"] = extensions
    original["tbs_certificate"] = asn1_x509.TbsCertificate.load(tbs.dump(force=True))
    duplicated = asn1_pem.armor("CERTIFICATE", original.dump(force=True)).decode()
    inputs = runtime_in(tmp_path, top.cert, ca.cert).inputs()  # type: ignore[attr-defined]
    refused = decide(parse_event(event(duplicated)), inputs, NOW)
    assert isinstance(refused, Refused)
    assert refused.reason == Reason.MALFORMED_CERT


def test_explain_reports_a_refusal_without_a_path(tmp_path: Path) -> None:
    from nodegate.diagnostics.explain import explain, render
    from nodegate_authorizer.revocation.answers import Status

    top = root()
    runtime = runtime_in(tmp_path, top.cert)
    report = explain({"type": "TOKEN"}, lambda: runtime, NOW)  # type: ignore[arg-type]
    assert (report["decision"], report["reason"], report["path"], report["revocation"]) == (
        "Deny",
        "BAD_REQUEST",
        [],
        [],
    )
    assert "=> Deny BAD_REQUEST" in render(report)
    assert [s.value for s in Status] == ["good", "revoked", "unavailable"]  # the report's vocabulary
