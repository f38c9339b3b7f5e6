"""The revocation checker at a fixed clock over an in-memory network: sources that cannot be lost, failure
marks per source and issuer key, OCSP algorithms, and cached answers that expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fixed import HOUR, NOW, T0, Web, cdp, checker, client, crl, crl_bytes, idp, root, sub, uri_point
from nodegate.pki.authority import CertificateAuthority, pem
from nodegate_authorizer.chain import PathPolicy
from nodegate_authorizer.reasons import Reason
from nodegate_authorizer.revocation.answers import RevocationOutcome, SourceInvalid, Status
from nodegate_authorizer.revocation.ocsp import ocsp_answer
from nodegate_authorizer.revocation.store import CrlStore
from nodegate_authorizer.truststore import parse_truststore

CRL_URL = "http://pki.example/issuing.crl"
OCSP_URL = "http://pki.example/ocsp"


def pki(**urls: str | None) -> tuple[CertificateAuthority, CertificateAuthority]:
    top = root()
    return top, sub(top, **urls)


def passes(outcome: RevocationOutcome) -> bool:
    """Not refused, and every checked certificate has a good answer."""
    return (
        outcome.refusal is None
        and outcome.checked >= 1
        and all(any(a.status is Status.GOOD for a in r.answers) for r in outcome.results)
    )


def refused(check: object) -> str:
    """The reason the revocation outcome refuses with (the test fails when it does not refuse)."""
    outcome = check()  # type: ignore[operator]
    assert outcome.refusal is not None, "the revocation step did not refuse"
    return str(outcome.refusal[0])


@pytest.mark.parametrize(
    "point",
    [
        uri_point(CRL_URL, reasons=frozenset({x509.ReasonFlags.key_compromise})),
        uri_point(CRL_URL, crl_issuer=[x509.DirectoryName(x509.Name.from_rfc4514_string("CN=Other CRL Issuer"))]),
        x509.DistributionPoint([x509.UniformResourceIdentifier("ldap://ldap.example/cn=CA?crl")], None, None, None),
    ],
    ids=["reasons", "cRLIssuer", "ldap-only"],
)
def test_a_distribution_point_we_cannot_use_is_an_unanswered_source(point: x509.DistributionPoint) -> None:
    top, ca = pki()
    leaf = client(ca, with_crl_url=False, extensions=[cdp(point)]).cert
    store = parse_truststore(pem(top.cert, ca.cert))
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca, [leaf.serial_number])  # would say revoked, if it could be used
    check = checker(web, REVOCATION_MODE="hard-fail")
    usable = point.full_name[0].value.startswith("http") and not point.crl_issuer
    expected = Reason.REVOKED if usable else Reason.REVOCATION_UNAVAILABLE
    assert refused(lambda: check.check((leaf, ca.cert), NOW, store)) == expected
    down = checker(Web(), REVOCATION_MODE="hard-fail")
    assert refused(lambda: down.check((leaf, ca.cert), NOW, store)) == Reason.REVOCATION_UNAVAILABLE


def test_another_partition_in_the_store_does_not_answer_when_the_cdp_is_down() -> None:
    top, ca = pki()
    leaf = client(ca, with_crl_url=False, extensions=[cdp(uri_point("http://pki.example/part-b.crl"))]).cert
    partition_a = crl(ca, [], extensions=[idp("http://pki.example/part-a.crl")])
    store = CrlStore(by_issuer={partition_a.issuer: (("s3://b/part-a.crl", partition_a),)})
    check = checker(Web(), store, REVOCATION_MODE="hard-fail")
    assert refused(lambda: check.check((leaf, ca.cert), NOW, parse_truststore(pem(top.cert)))) == (
        Reason.REVOCATION_UNAVAILABLE
    )


def test_failure_marks_are_per_source_and_issuer_key() -> None:
    """A re-keyed CA with the same name and CRL URL: a failure for the old key must not deny the new one."""
    top = root()
    old = sub(top, "Issuing", crl_url=CRL_URL)
    new = sub(top, "Issuing", crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, old.cert, new.cert))
    web = Web()
    web.pages[CRL_URL] = crl_bytes(new)  # signed by the new key only
    check = checker(web, REVOCATION_MODE="hard-fail")
    old_leaf, new_leaf = client(old).cert, client(new).cert
    assert refused(lambda: check.check((old_leaf, old.cert), NOW, store)) == Reason.REVOCATION_UNAVAILABLE
    assert passes(check.check((new_leaf, new.cert), NOW, store))
    assert web.hits[CRL_URL] == 2


def test_failed_source_is_not_fetched_again_before_the_retry_time() -> None:
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    web = Web()
    check = checker(web, REVOCATION_MODE="hard-fail")
    leaf = client(ca).cert
    for at in (NOW, NOW + dt.timedelta(seconds=10)):
        assert refused(lambda at=at: check.check((leaf, ca.cert), at, store)) == Reason.REVOCATION_UNAVAILABLE
    assert web.hits[CRL_URL] == 1
    assert check.source_failures == 1
    second = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_RETRY_SECONDS="0")
    for _ in range(2):
        refused(lambda: second.check((leaf, ca.cert), NOW, store))
    assert second.source_failures == 2
    web.pages[CRL_URL] = crl_bytes(ca)
    assert passes(check.check((leaf, ca.cert), NOW + dt.timedelta(seconds=31), store))
    assert web.hits[CRL_URL] == 4


def _ocsp_for(
    ca: CertificateAuthority,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    validity: dt.timedelta = HOUR,
    this_update: dt.datetime = NOW - dt.timedelta(minutes=5),
):
    def answer(body: bytes | None) -> bytes:
        request = ocsp.load_der_ocsp_request(body or b"")
        response = ca.ocsp_response(request, status, revoked_at=T0, this_update=this_update, validity=validity)
        return response.public_bytes(serialization.Encoding.DER)

    return answer


def test_stale_cached_ocsp_answer_is_not_used() -> None:
    top, ca = pki(ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False).cert
    web = Web()
    web.pages[OCSP_URL] = _ocsp_for(ca)
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0")
    assert passes(check.check((leaf, ca.cert), NOW, store))
    del web.pages[OCSP_URL]  # the responder goes down
    assert passes(check.check((leaf, ca.cert), NOW + dt.timedelta(minutes=30), store))  # cached, still valid
    later = NOW + dt.timedelta(minutes=56, seconds=30)  # past nextUpdate, within the skew of the CRL check only
    assert refused(lambda: check.check((leaf, ca.cert), later, store)) == Reason.REVOCATION_UNAVAILABLE


def test_stale_cached_crl_is_not_used() -> None:
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_ocsp_url=False).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca, next_update=NOW + HOUR)
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0", REVOCATION_RETRY_SECONDS="0")
    assert passes(check.check((leaf, ca.cert), NOW, store))
    del web.pages[CRL_URL]
    assert passes(check.check((leaf, ca.cert), NOW + dt.timedelta(minutes=30), store))
    assert refused(lambda: check.check((leaf, ca.cert), NOW + 2 * HOUR, store)) == Reason.REVOCATION_UNAVAILABLE


def _resign(data: bytes, key: object, *, pss: bool = False, oid: str | None = None, corrupt: bool = False) -> bytes:
    """Re-sign a DER OCSP response: RSASSA-PSS, an unknown algorithm OID, or a corrupted signature."""
    from asn1crypto import algos
    from asn1crypto import ocsp as asn1_ocsp

    response = asn1_ocsp.OCSPResponse.load(data)
    basic = response["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"].dump()
    if pss:
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                "salt_length": 32,
            }
        )
        basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        basic["signature"] = key.sign(tbs, pad, hashes.SHA256())  # type: ignore[attr-defined]
    if oid:
        basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": oid})
    if corrupt:
        signature = bytearray(basic["signature"].native)
        signature[-1] ^= 1
        basic["signature"] = bytes(signature)
    response["response_bytes"]["response"] = asn1_ocsp.BasicOCSPResponse.load(basic.dump(force=True))
    return response.dump(force=True)


def test_ocsp_algorithms() -> None:
    top = CertificateAuthority.root("RSA Root", key="rsa", not_before=T0)
    issued = top.issue(x509.Name.from_rfc4514_string("CN=RSA Issuing"), ca=True, key="rsa", not_before=T0)
    ca = CertificateAuthority(issued.cert, issued.key, ocsp_url=OCSP_URL)
    leaf = client(ca, with_crl_url=False).cert
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.cert, hashes.SHA1()).build()
    signed = ca.ocsp_response(request, ocsp.OCSPCertStatus.GOOD, this_update=NOW - HOUR, validity=2 * HOUR)
    der = signed.public_bytes(serialization.Encoding.DER)
    skew, age = dt.timedelta(seconds=60), HOUR

    def answer(data: bytes) -> object:
        return ocsp_answer("ocsp:x", data, leaf, ca.cert, NOW, skew, age)

    assert answer(der).status == "good"
    assert answer(_resign(der, ca.key, pss=True)).status == "good"
    for broken in (
        _resign(der, ca.key, corrupt=True),
        _resign(der, ca.key, pss=True, corrupt=True),
        _resign(der, ca.key, oid="1.2.3.4.5"),
    ):
        with pytest.raises(SourceInvalid):
            answer(broken)


def test_unverifiable_ocsp_answer_is_no_answer_and_a_good_crl_still_decides() -> None:
    issued_root = CertificateAuthority.root("RSA Root", key="rsa", not_before=T0)
    issued = issued_root.issue(x509.Name.from_rfc4514_string("CN=RSA Issuing"), ca=True, key="rsa", not_before=T0)
    ca = CertificateAuthority(issued.cert, issued.key, crl_url=CRL_URL, ocsp_url=OCSP_URL)
    store = parse_truststore(pem(issued_root.cert, ca.cert))
    leaf = client(ca).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca)
    web.pages[OCSP_URL] = lambda body: _resign(_ocsp_for(ca)(body), ca.key, oid="1.2.3.4.5")
    for mode in ("hard-fail", "soft-fail", "require"):
        assert passes(checker(web, REVOCATION_MODE=mode).check((leaf, ca.cert), NOW, store))
    del web.pages[CRL_URL]
    assert refused(lambda: checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert), NOW, store)) == (
        Reason.REVOCATION_UNAVAILABLE
    )


def test_revoked_on_ocsp_only() -> None:
    top, ca = pki(crl_url=CRL_URL, ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca)
    web.pages[OCSP_URL] = _ocsp_for(ca, ocsp.OCSPCertStatus.REVOKED)
    assert refused(lambda: checker(web, REVOCATION_MODE="soft-fail").check((leaf, ca.cert), NOW, store)) == (
        Reason.REVOKED
    )


def test_every_certificate_of_a_longer_path_is_fetched_and_checked() -> None:
    top = root(crl_url="http://pki.example/root.crl")
    ca = sub(top, crl_url=CRL_URL)
    leaf = client(ca, with_ocsp_url=False).cert
    store = parse_truststore(pem(top.cert, ca.cert))
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca)
    web.pages["http://pki.example/root.crl"] = crl_bytes(top, [ca.cert.serial_number])
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert, top.cert), NOW, store)
    assert [r.role for r in outcome.results] == ["leaf", "intermediate 1"]
    assert outcome.refusal is not None
    assert outcome.refusal[0] == Reason.REVOKED
    assert outcome.refusal[1].startswith("intermediate 1 serial")
    web.pages["http://pki.example/root.crl"] = crl_bytes(top)
    assert passes(checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert, top.cert), NOW, store))


def test_an_ocsp_location_we_cannot_use_is_an_unanswered_ocsp_source() -> None:
    top, ca = pki(crl_url=CRL_URL)
    ldap = x509.AccessDescription(
        x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("ldap://pki.example/ocsp")
    )
    leaf = client(ca, with_ocsp_url=False, extensions=[(x509.AuthorityInformationAccess([ldap]), False)]).cert
    store = parse_truststore(pem(top.cert, ca.cert))
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca)
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert), NOW, store)
    assert outcome.refusal is None
    answers = outcome.results[0].answers
    assert [(a.source, a.status) for a in answers] == [("crl", Status.GOOD), ("ocsp", Status.UNAVAILABLE)]
    assert "without an http(s) URL" in answers[1].detail
    del web.pages[CRL_URL]
    assert refused(lambda: checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert), NOW, store)) == (
        Reason.REVOCATION_UNAVAILABLE
    )


def _separate_signer(issuer: CertificateAuthority) -> CertificateAuthority:
    usage = x509.KeyUsage(False, False, False, False, False, False, True, False, False)
    issued = issuer.issue(
        issuer.cert.subject, key_usage=usage, eku=None, with_crl_url=False, with_ocsp_url=False, not_before=T0
    )
    return CertificateAuthority(issued.cert, issued.key)


def stored(*crls: bytes) -> CrlStore:
    """A CRL store holding ``crls`` (grouped by issuer, as load_crl_store does)."""
    grouped: dict[object, list[tuple[str, object]]] = {}
    for number, data in enumerate(crls):
        index = parse(data)
        grouped.setdefault(index.issuer, []).append((f"s3://b/{number}.crl", index))
    return CrlStore(by_issuer={k: tuple(v) for k, v in grouped.items()})  # type: ignore[misc]


def test_crl_signed_by_a_separate_crl_signing_certificate() -> None:
    """RFC 5280 6.3.3 (f): the signer needs cRLSign, a path to the same anchor, and its own status."""
    top = root()
    ca = sub(top)
    signer = _separate_signer(ca)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    path = (leaf, ca.cert, top.cert)
    trust = parse_truststore(pem(top.cert, ca.cert, signer.cert))
    root_crl = crl_bytes(top)

    def check(*crls: bytes, truststore: object = trust) -> RevocationOutcome:
        return checker(Web(), stored(root_crl, *crls), REVOCATION_MODE="require").check(path, NOW, truststore)  # type: ignore[arg-type]

    assert passes(check(crl_bytes(ca, signer=signer.key)))
    assert refused(lambda: check(crl_bytes(ca, [leaf.serial_number], signer=signer.key))) == Reason.REVOKED
    without_signer = parse_truststore(pem(top.cert, ca.cert))
    assert refused(lambda: check(crl_bytes(ca, signer=signer.key), truststore=without_signer)) == (
        Reason.REVOCATION_UNAVAILABLE
    )
    # the CA's own CRL (for key compromise only) revokes the CRL signer: the signer's CRL no longer counts
    compromise = idp(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}))
    signer_revoked = crl_bytes(ca, [signer.cert.serial_number], number=2, extensions=[compromise])
    outcome = check(crl_bytes(ca, signer=signer.key), signer_revoked)
    assert outcome.refusal is not None
    assert "CRL signer" in outcome.refusal[1]


def test_an_issuer_without_crl_sign_cannot_sign_crls() -> None:
    top = root()
    cert_sign_only = x509.KeyUsage(False, False, False, False, False, True, False, False, False)
    issued = top.issue(
        x509.Name.from_rfc4514_string("CN=No CRL Sign"), ca=True, key_usage=cert_sign_only, not_before=T0
    )
    ca = CertificateAuthority(issued.cert, issued.key)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    store = stored(crl_bytes(top), crl_bytes(ca))
    outcome = checker(Web(), store, REVOCATION_MODE="require").check(
        (leaf, ca.cert, top.cert), NOW, parse_truststore(pem(top.cert, ca.cert))
    )
    assert outcome.refusal is not None
    assert "lacks cRLSign" in outcome.refusal[1]


def test_crl_signer_limits_depth_and_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    from nodegate_authorizer.revocation import checker as checker_module

    top, other_top = root(), root("Other Root")
    ca = sub(top)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    twin = sub(other_top, "Fixed Issuing")  # the same name as the CA, under another anchor
    foreign = _separate_signer(twin)
    foreign_crl = crl_bytes(ca, signer=foreign.key)
    trust = parse_truststore(pem(top.cert, ca.cert, other_top.cert, twin.cert, foreign.cert))
    store = stored(crl_bytes(top), foreign_crl)
    refusal = checker(Web(), store, REVOCATION_MODE="require").check((leaf, ca.cert, top.cert), NOW, trust).refusal
    assert refusal is not None
    assert "another trust anchor" in refusal[1]
    signer = _separate_signer(ca)
    store = stored(crl_bytes(top), crl_bytes(ca, signer=signer.key))
    trust = parse_truststore(pem(top.cert, ca.cert, signer.cert))
    assert passes(checker(Web(), store, REVOCATION_MODE="require").check((leaf, ca.cert, top.cert), NOW, trust))
    monkeypatch.setattr(checker_module, "MAX_SIGNER_DEPTH", 0)
    refusal = checker(Web(), store, REVOCATION_MODE="require").check((leaf, ca.cert, top.cert), NOW, trust).refusal
    assert refusal is not None
    assert "too deep" in refusal[1]


def parse(data: bytes):
    from nodegate_authorizer.revocation.crl import parse_crl

    return parse_crl(data)


def test_ocsp_answer_without_next_update_lasts_ocsp_max_age() -> None:
    top, ca = pki(ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False).cert
    web = Web()
    web.pages[OCSP_URL] = _ocsp_for(ca, validity=None, this_update=NOW - dt.timedelta(minutes=10))  # type: ignore[arg-type]
    check = checker(web, REVOCATION_MODE="hard-fail", OCSP_MAX_AGE_SECONDS="1800")
    outcome = check.check((leaf, ca.cert), NOW, store)
    assert passes(outcome)
    assert outcome.results[0].answers[0].valid_until == NOW + dt.timedelta(minutes=20)


def test_a_reissued_issuer_certificate_with_crl_sign_signs_for_one_without() -> None:
    """RFC 5280 6.3.3 (f): the CRL issuer's certificate is any certificate of that name and key with a valid
    path; the one that lacks cRLSign does not hide a re-issued one (same key) that has it."""
    top = root()
    cert_sign_only = x509.KeyUsage(False, False, False, False, False, True, False, False, False)
    both = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    name = x509.Name.from_rfc4514_string("CN=Reissued CA")
    first = top.issue(name, ca=True, key_usage=cert_sign_only, not_before=T0)
    ca = CertificateAuthority(first.cert, first.key)
    again = top.issue(name, ca=True, key=first.key, key_usage=both, not_before=T0, with_crl_url=False)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    store = stored(crl_bytes(top), crl_bytes(ca))
    path = (leaf, ca.cert, top.cert)
    alone = checker(Web(), store, REVOCATION_MODE="require").check(path, NOW, parse_truststore(pem(top.cert, ca.cert)))
    assert alone.refusal is not None
    trust = parse_truststore(pem(top.cert, ca.cert, again.cert))
    assert passes(checker(Web(), store, REVOCATION_MODE="require").check(path, NOW, trust))


def test_crl_signers_two_deep_and_the_depth_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leaf's CRL is signed by S1 (the CA's name, issued by the root); the root's CRL, which S1's status
    needs, is signed by S2: two separate signers deep, allowed by MAX_SIGNER_DEPTH 2 and refused at 1."""
    from nodegate_authorizer.revocation import checker as checker_module

    top = root()
    ca = sub(top)
    usage = x509.KeyUsage(False, False, False, False, False, False, True, False, False)
    s1 = top.issue(ca.cert.subject, key_usage=usage, eku=None, with_crl_url=False, with_ocsp_url=False, not_before=T0)
    s2 = _separate_signer(top)
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    store = stored(crl_bytes(top, signer=s2.key), crl_bytes(ca, signer=s1.key))
    trust = parse_truststore(pem(top.cert, ca.cert, s1.cert, s2.cert))
    path = (leaf, ca.cert, top.cert)
    assert passes(checker(Web(), store, REVOCATION_MODE="require").check(path, NOW, trust))
    monkeypatch.setattr(checker_module, "MAX_SIGNER_DEPTH", 1)
    refusal = checker(Web(), store, REVOCATION_MODE="require").check(path, NOW, trust).refusal
    assert refusal is not None
    assert "too deep" in refusal[1]


# --- issue 23: delta sources, refreshes, the fetch cap, delegated responders -------------------------------

DELTA_URL = "http://pki.example/issuing-delta.crl"
FRESHEST = x509.FreshestCRL([uri_point(DELTA_URL)])


def _delta_bytes(ca: CertificateAuthority, revoked: list[int], number: int = 6, base: int = 5) -> bytes:
    return crl_bytes(ca, revoked, number=number, extensions=[(x509.DeltaCRLIndicator(base), True)])


@pytest.mark.parametrize("advertised_by", ["certificate", "complete CRL"])
def test_a_failing_delta_source_is_no_answer_and_a_working_one_revokes(advertised_by: str) -> None:
    """RFC 5280 4.2.1.15, 5.2.6: the delta is advertised by the certificate or by the complete CRL itself;
    when it cannot be fetched the complete CRL alone does not say "good" (hard-fail denies)."""
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    on_cert = [(FRESHEST, False)] if advertised_by == "certificate" else []
    leaf = client(ca, with_ocsp_url=False, extensions=on_cert).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca, number=5, extensions=[] if on_cert else [(FRESHEST, False)])
    hard = {"REVOCATION_MODE": "hard-fail", "REVOCATION_RETRY_SECONDS": "0"}
    assert refused(lambda: checker(web, **hard).check((leaf, ca.cert), NOW, store)) == Reason.REVOCATION_UNAVAILABLE
    web.pages[DELTA_URL] = _delta_bytes(ca, [leaf.serial_number])
    assert refused(lambda: checker(web, **hard).check((leaf, ca.cert), NOW, store)) == Reason.REVOKED
    web.pages[DELTA_URL] = _delta_bytes(ca, [])
    assert passes(checker(web, **hard).check((leaf, ca.cert), NOW, store))


@pytest.mark.parametrize("kind", ["crl", "ocsp"])
@pytest.mark.parametrize("bad", ["wrong signer", "expired", "garbage"])
def test_a_bad_refresh_does_not_replace_a_good_cached_answer(kind: str, bad: str) -> None:
    """One rule for both caches: a refreshed CRL or OCSP answer replaces the cached one only once it is
    validated (signed by its issuer, current); until then the cached answer, still valid, is used."""
    top, ca = pki(**{"crl_url": CRL_URL} if kind == "crl" else {"ocsp_url": OCSP_URL})
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=kind == "crl", with_ocsp_url=kind == "ocsp").cert
    url = CRL_URL if kind == "crl" else OCSP_URL
    web = Web()
    web.pages[url] = crl_bytes(ca, next_update=NOW + 24 * HOUR) if kind == "crl" else _ocsp_for(ca, validity=24 * HOUR)
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0", REVOCATION_RETRY_SECONDS="0")
    assert passes(check.check((leaf, ca.cert), NOW, store))
    later = NOW + HOUR
    impostor = CertificateAuthority.root("Fixed Issuing", not_before=T0)  # same name, another key
    if kind == "crl":
        web.pages[url] = {
            "wrong signer": crl_bytes(impostor, this_update=later),
            "expired": crl_bytes(ca, this_update=NOW - 5 * HOUR, next_update=NOW - 2 * HOUR),
            "garbage": b"\x30\x03\x02\x01\x01",
        }[bad]
    else:
        web.pages[url] = {
            "wrong signer": _ocsp_for(impostor, this_update=later),
            "expired": _ocsp_for(ca, this_update=NOW - 5 * HOUR, validity=HOUR),
            "garbage": b"\x30\x03\x0a\x01\x00",
        }[bad]
    assert passes(check.check((leaf, ca.cert), later, store))
    assert web.hits[url] == 2  # it was asked, and its answer refused


REFRESHES = st.lists(st.integers(1, 6) | st.sampled_from(["garbage", "gone"]), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@example(served=[5, 4, 4], revoked_from=7)  # review rev-F F2: an older CRL after #5 evicted #5
@example(served=[5, 4, 6], revoked_from=6)
@given(served=REFRESHES, revoked_from=st.integers(1, 7))
def test_a_refresh_that_goes_back_in_crl_number_keeps_the_newest_crl(
    served: list[int | str], revoked_from: int
) -> None:
    """The CDP serves, one refresh after another, CA-signed CRLs in any order of cRLNumber (a lagging CDN node,
    a replay on the plain-HTTP path), garbage or nothing; the CA lists the leaf from #``revoked_from`` on. A CRL
    older than the newest one already used is a failed refresh, like garbage or a 404 (RFC 5280 5.2.3, 6.3.3):
    the newest stays in use until its nextUpdate, so the answer always follows the highest CRL served so far."""
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_ocsp_url=False).cert
    web = Web()
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0", REVOCATION_RETRY_SECONDS="0")
    highest = 0
    for step, page in enumerate(served):
        if page == "gone":
            web.pages.pop(CRL_URL, None)
        elif page == "garbage":
            web.pages[CRL_URL] = b"\x30\x03\x02\x01\x01"
        else:
            assert isinstance(page, int)
            listed = [leaf.serial_number] if page >= revoked_from else []
            web.pages[CRL_URL] = crl_bytes(
                ca, listed, number=page, this_update=NOW - HOUR + page * dt.timedelta(minutes=1)
            )
            highest = max(highest, page)
        outcome = check.check((leaf, ca.cert), NOW + dt.timedelta(seconds=step), store)
        if not highest:
            assert outcome.refusal is not None
            assert outcome.refusal[0] == Reason.REVOCATION_UNAVAILABLE
        elif highest >= revoked_from:
            assert outcome.refusal is not None
            assert outcome.refusal[0] == Reason.REVOKED, outcome
        else:
            assert passes(outcome), outcome


OCSP_ANSWERS = st.lists(
    st.tuples(st.booleans(), st.integers(1, 50)), min_size=1, max_size=6, unique_by=lambda answer: answer[1]
)


@settings(max_examples=60, deadline=None)
@example(served=[(True, 5), (False, 30)])  # a "good" of 30 minutes ago replayed after the "revoked" of 5
@given(served=OCSP_ANSWERS)
def test_an_older_ocsp_answer_never_replaces_a_newer_cached_one(served: list[tuple[bool, int]]) -> None:
    """The responder (or a replay on its plain-HTTP path) serves signed answers, each still inside its
    validity and OCSP_MAX_AGE_SECONDS, in any order of thisUpdate. An answer older than the cached one is a
    failed refresh (the same rule as for CRL numbers), so the decision follows the newest answer served so far."""
    top, ca = pki(ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False).cert
    web = Web()
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0", REVOCATION_RETRY_SECONDS="0")
    newest: tuple[bool, int] | None = None
    for step, (revoked, minutes) in enumerate(served):
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        web.pages[OCSP_URL] = _ocsp_for(ca, status, this_update=NOW - dt.timedelta(minutes=minutes))
        newest = min(newest or (revoked, minutes), (revoked, minutes), key=lambda answer: answer[1])
        outcome = check.check((leaf, ca.cert), NOW + dt.timedelta(seconds=step), store)
        if newest[0]:
            assert outcome.refusal is not None
            assert outcome.refusal[0] == Reason.REVOKED, outcome
        else:
            assert passes(outcome), outcome


def test_every_source_of_a_long_path_is_asked_and_none_is_marked_failed_unasked() -> None:
    """root -> policy CA -> issuing CA -> leaf, each below the root with a CDP and an OCSP URL: six sources
    in one decision, all asked in the same batch (the old per-decision cap of four left two unasked and
    marked them failed, denying every decision for REVOCATION_RETRY_SECONDS)."""
    top = root(crl_url="http://pki.example/root.crl", ocsp_url="http://pki.example/root-ocsp")
    policy = sub(
        top, "Fixed Policy", crl_url="http://pki.example/policy.crl", ocsp_url="http://pki.example/policy-ocsp"
    )
    ca = sub(policy, crl_url=CRL_URL, ocsp_url=OCSP_URL)
    leaf = client(ca).cert
    store = parse_truststore(pem(top.cert, policy.cert, ca.cert))
    web = Web()
    for name, issuer in (("root", top), ("policy", policy), ("issuing", ca)):
        web.pages[f"http://pki.example/{name}.crl"] = crl_bytes(issuer)
    for name, issuer in (("root-ocsp", top), ("policy-ocsp", policy), ("ocsp", ca)):
        web.pages[f"http://pki.example/{name}"] = _ocsp_for(issuer)
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert, policy.cert, top.cert), NOW, store)
    assert passes(outcome)
    assert outcome.checked == 3
    assert set(web.hits) == set(web.pages)
    assert all(a.status is Status.GOOD for r in outcome.results for a in r.answers)


def _delegate(ca: CertificateAuthority, nocheck: bool) -> object:
    from nodegate.pki.authority import CLIENT_USAGE

    return ca.issue(
        x509.Name.from_rfc4514_string("CN=Delegated OCSP responder"),
        eku=[x509.ExtendedKeyUsageOID.OCSP_SIGNING],
        key_usage=CLIENT_USAGE,
        with_crl_url=False,
        with_ocsp_url=False,
        not_before=T0,
        extensions=[(x509.OCSPNoCheck(), False)] if nocheck else (),
    )


@pytest.mark.parametrize("nocheck", [True, False])
@pytest.mark.parametrize("delegate_on_crl", ["absent", "listed", "not listed"])
def test_a_delegated_responder_is_revocation_checked_unless_nocheck(nocheck: bool, delegate_on_crl: str) -> None:
    """RFC 6960 4.2.2.2.1: a delegate with id-pkix-ocsp-nocheck is trusted for its lifetime; one without it
    counts only when the issuing CA's CRL says it is not revoked. An OCSP answer whose delegate is unknown or
    revoked is no answer (the CRL may still decide)."""
    top, ca = pki(crl_url=CRL_URL, ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    responder = _delegate(ca, nocheck)
    leaf = client(ca, with_crl_url=delegate_on_crl != "absent").cert
    web = Web()
    if delegate_on_crl != "absent":
        web.pages[CRL_URL] = crl_bytes(ca, [responder.cert.serial_number] if delegate_on_crl == "listed" else [])  # type: ignore[attr-defined]
    web.pages[OCSP_URL] = good_answers(ca, responder)
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert), NOW, store)
    ocsp_status = [a.status for a in outcome.results[0].answers if a.source.startswith("ocsp")]
    trusted = nocheck or delegate_on_crl == "not listed"
    assert ocsp_status == [Status.GOOD if trusted else Status.UNAVAILABLE]
    assert (outcome.refusal is None) == (trusted or delegate_on_crl != "absent")  # the leaf's CRL still decides


def good_answers(ca: CertificateAuthority, responder: object) -> Callable[[bytes | None], bytes]:
    """An OCSP responder page: every request answered "good", signed by ``responder`` for ``ca``."""

    def answer(body: bytes | None) -> bytes:
        request = ocsp.load_der_ocsp_request(body or b"")
        signed = ca.ocsp_response(request, ocsp.OCSPCertStatus.GOOD, responder=responder, this_update=NOW - HOUR)  # type: ignore[arg-type]
        return signed.public_bytes(serialization.Encoding.DER)

    return answer


def _resigned_crl(data: bytes, key: object, algorithm: hashes.HashAlgorithm) -> bytes:
    """A CRL signed again with ECDSA or RSA and ``algorithm`` (asn1crypto: cryptography will not sign with
    SHA-1 or MD5)."""
    from asn1crypto import crl as asn1_crl
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    parsed = asn1_crl.CertificateList.load(data)
    ecdsa = isinstance(key, ec.EllipticCurvePrivateKey)
    name = {"algorithm": f"{algorithm.name}_{'ecdsa' if ecdsa else 'rsa'}"}
    parsed["tbs_cert_list"]["signature"] = name
    tbs = asn1_crl.TbsCertList.load(parsed["tbs_cert_list"].dump(force=True))
    parsed["tbs_cert_list"] = tbs
    parsed["signature_algorithm"] = name
    if ecdsa:
        parsed["signature"] = key.sign(tbs.dump(), ec.ECDSA(algorithm))  # type: ignore[union-attr]
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        parsed["signature"] = key.sign(tbs.dump(), padding.PKCS1v15(), algorithm)
    return parsed.dump(force=True)


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [("ec", hashes.SHA1()), ("ec", hashes.SHA256()), ("rsa", hashes.SHA1()), ("rsa", hashes.MD5())],
    ids=["ecdsa-sha1", "ecdsa-sha256", "rsa-sha1", "rsa-md5"],  # there is no MD5 with ECDSA
)
def test_crls_with_weak_signatures_are_refused_as_certificates_are(algorithm: hashes.HashAlgorithm, key: str) -> None:
    """The weak-algorithm rule of certificates (certificates.signature_weakness) applies to CRLs, under the
    same PathPolicy switch (refuse_weak_crypto)."""
    from fixed import settings as fixed_settings
    from nodegate_authorizer.revocation.checker import RevocationChecker

    top = CertificateAuthority.root("Weak Root", key=key, not_before=T0)
    issued = top.issue(x509.Name.from_rfc4514_string("CN=Weak Issuing"), ca=True, key=key, not_before=T0)
    ca = CertificateAuthority(issued.cert, issued.key)
    trust = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    store = stored(_resigned_crl(crl_bytes(ca), ca.key, algorithm), crl_bytes(top))
    strong = algorithm.name == "sha256"
    for refuse in (True, False):
        check = RevocationChecker(
            fixed_settings(REVOCATION_MODE="hard-fail"), Web(), lambda: store, PathPolicy(refuse_weak_crypto=refuse)
        )
        outcome = check.check((leaf, ca.cert, top.cert), NOW, trust)
        assert passes(outcome) == (strong or not refuse), outcome
        if not passes(outcome):
            assert algorithm.name in outcome.results[0].answers[0].detail


@pytest.mark.parametrize(("where", "offset"), [("crl", 1), ("entry", 0), ("entry", 1)])
def test_a_fetched_crl_that_raises_inside_cryptography_is_no_answer(where: str, offset: int) -> None:
    """A duplicated CRL extension makes the whole CRL no answer; an entry whose duplicated extension cannot be
    read still revokes its own certificate (reason unknown), and says nothing of the others (rule R5)."""
    from test_crl_store import crl_with_duplicate

    top, ca = pki(crl_url=CRL_URL)
    trust = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_ocsp_url=False).cert
    web = Web()
    web.pages[CRL_URL] = crl_with_duplicate(where, ca, leaf.serial_number + offset, signed=True)
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert), NOW, trust)
    if where == "entry":
        assert (outcome.refusal or (None,))[0] == (None if offset else Reason.REVOKED), outcome
        return
    assert outcome.refusal is not None
    assert outcome.refusal[0] == Reason.REVOCATION_UNAVAILABLE
    assert "malformed CRL" in outcome.refusal[1]


def test_a_stored_crl_vouches_for_a_delegate_only_when_signed_by_its_ca() -> None:
    """The delegate's CRL check goes through the same signer check as every CRL (RFC 5280 6.3.3 (f)-(g)):
    a CRL under the CA's name but another key says nothing about the delegate."""
    top, ca = pki(ocsp_url=OCSP_URL)
    trust = parse_truststore(pem(top.cert, ca.cert))
    responder = _delegate(ca, nocheck=False)
    leaf = client(ca, with_crl_url=False).cert
    impostor = CertificateAuthority.root("Fixed Issuing", not_before=T0)  # same name, another key
    web = Web()
    web.pages[OCSP_URL] = good_answers(ca, responder)
    for signer, trusted in ((impostor, False), (ca, True)):
        outcome = checker(web, stored(crl_bytes(signer), crl_bytes(top)), REVOCATION_MODE="hard-fail").check(
            (leaf, ca.cert), NOW, trust
        )
        ocsp_status = [a.status for a in outcome.results[0].answers if a.source.startswith("ocsp")]
        assert ocsp_status == [Status.GOOD if trusted else Status.UNAVAILABLE]


def test_a_failed_advertised_delta_source_is_marked_like_any_crl_source() -> None:
    """A delta URL learned from a complete CRL's freshestCRL is a CRL source: its failure is marked, and it
    is not asked again before REVOCATION_RETRY_SECONDS."""
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_ocsp_url=False).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca, number=5, extensions=[(FRESHEST, False)])
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_RETRY_SECONDS="30")
    for _ in range(2):
        assert refused(lambda: check.check((leaf, ca.cert), NOW, store)) == Reason.REVOCATION_UNAVAILABLE
    assert web.hits[DELTA_URL] == 1
    assert check.source_failures == 1


# --- issue 22 item 2: the CRL store as a certificate's only source; CRL numbers never go back ---------------


def test_a_missing_stored_crl_is_no_answer_when_the_store_is_the_only_source(tmp_path: Path) -> None:
    """Rule: with CRL_STORE_URI set, a certificate that names no CDP, freshestCRL or OCSP URL gets its answer
    from the store; no stored CRL of its issuer is "no answer" (hard-fail denies), not "no source"."""
    from nodegate_authorizer.revocation.store import load_crl_store

    top, ca = pki()
    trust = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    (tmp_path / "root.crl").write_bytes(crl_bytes(top))
    store = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    check = checker(Web(), store, REVOCATION_MODE="hard-fail")
    assert refused(lambda: check.check((leaf, ca.cert, top.cert), NOW, trust)) == Reason.REVOCATION_UNAVAILABLE
    (tmp_path / "issuing.crl").write_bytes(crl_bytes(ca))
    store = load_crl_store(tmp_path.as_uri(), store, timeout=1, max_bytes=1 << 20)
    assert passes(checker(Web(), store, REVOCATION_MODE="hard-fail").check((leaf, ca.cert, top.cert), NOW, trust))
    # a certificate with its own CDP (and no OCSP URL) is answered there, whatever the store holds
    with_cdp = client(CertificateAuthority(ca.cert, ca.key, crl_url=CRL_URL), with_ocsp_url=False).cert
    web = Web()
    web.pages[CRL_URL] = crl_bytes(ca)
    (tmp_path / "empty").mkdir()
    empty = load_crl_store((tmp_path / "empty").as_uri(), None, timeout=1, max_bytes=1)
    assert passes(checker(web, empty, REVOCATION_MODE="hard-fail").check((with_cdp, ca.cert), NOW, trust))
    # without a configured store nothing changes: no source at all passes hard-fail, as before
    assert checker(Web(), REVOCATION_MODE="hard-fail").check((leaf, ca.cert, top.cert), NOW, trust).refusal is None


def test_a_rollback_to_an_older_crl_is_refused() -> None:
    """RFC 5280 5.2.3: cRLNumbers increase. Once #5 was used, a store that offers only #4 (still inside its
    nextUpdate) is refused; an older CRL beside the current one is still read (its revocations count)."""
    from fixed import settings as fixed_settings
    from nodegate_authorizer.revocation.checker import RevocationChecker

    top, ca = pki()
    trust = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    root_crl = crl_bytes(top)
    snapshots = {
        "current": stored(crl_bytes(ca, number=5), root_crl),
        "rolled back": stored(crl_bytes(ca, number=4), root_crl),
        "both, older lists it": stored(
            crl_bytes(ca, [leaf.serial_number], number=4), crl_bytes(ca, number=5), root_crl
        ),
    }
    which = ["current"]
    check = RevocationChecker(
        fixed_settings(REVOCATION_MODE="hard-fail"), Web(), lambda: snapshots[which[0]], PathPolicy()
    )
    path = (leaf, ca.cert, top.cert)
    assert passes(check.check(path, NOW, trust))
    which[0] = "rolled back"
    outcome = check.check(path, NOW, trust)
    assert outcome.refusal is not None
    assert "rollback" in outcome.refusal[1]
    which[0] = "both, older lists it"
    assert refused(lambda: check.check(path, NOW, trust)) == Reason.REVOKED
    which[0] = "current"
    assert passes(check.check(path, NOW, trust))
    fresh = RevocationChecker(
        fixed_settings(REVOCATION_MODE="hard-fail"), Web(), lambda: snapshots["rolled back"], PathPolicy()
    )
    assert passes(fresh.check(path, NOW, trust))  # a new container has seen nothing newer


def test_a_rolled_back_crl_cannot_vouch_for_a_delegated_responder() -> None:
    """Review finding: with CRL #6 listing the leaf and the delegate (no nocheck) already used, a replayed #5
    (CA-signed, inside its nextUpdate) is refused for the leaf, and must be refused for the delegate too, or the
    compromised delegate's "good" lets the revoked leaf in (RFC 6960 4.2.2.2.1, RFC 5280 5.2.3)."""
    top, ca = pki(crl_url=CRL_URL, ocsp_url=OCSP_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    responder = _delegate(ca, False)
    leaf = client(ca).cert
    web = Web()
    web.pages[OCSP_URL] = good_answers(ca, responder)
    web.pages[CRL_URL] = crl_bytes(ca, [leaf.serial_number, responder.cert.serial_number], number=6)  # type: ignore[attr-defined]
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0")
    assert refused(lambda: check.check((leaf, ca.cert), NOW, store)) == Reason.REVOKED
    web.pages[CRL_URL] = crl_bytes(ca, [], number=5)
    outcome = check.check((leaf, ca.cert), NOW + dt.timedelta(seconds=1), store)
    assert outcome.refusal is not None, outcome
    assert outcome.refusal[0] == Reason.REVOKED  # the replayed #5 is a failed refresh: #6 stays in use (rev-F F2)
    delegated = [a for r in outcome.results for a in r.answers if a.source.startswith("ocsp")]
    assert delegated
    assert all(a.status is Status.UNAVAILABLE and "delegated OCSP responder" in a.detail for a in delegated)


@pytest.mark.parametrize("listed", [False, True])
def test_an_indirect_crl_signed_by_the_trust_anchor_itself_answers(listed: bool) -> None:
    """Review finding (wrong Deny): the root signs an indirect CRL for its sub-CA's certificates (cRLIssuer = the
    root). Its signer's path has length zero (RFC 5280 6.3.3 (f)); it was never built, so every certificate of
    the sub-CA was unanswered. OpenSSL (-crl_check -extended_crl) answers: revoked when listed, good when not."""
    from fixed import cdp, crl_builder, idp, uri_point

    top = root()
    ca = sub(top, "Issuing Under Root")
    url = "http://pki.example/root-indirect.crl"
    point = uri_point(url, crl_issuer=[x509.DirectoryName(top.cert.subject)])
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False, extensions=[cdp(point)]).cert
    builder = crl_builder(top.cert.subject).add_extension(idp(url, indirect_crl=True)[0], critical=True)
    if listed:
        entry = x509.RevokedCertificateBuilder().serial_number(leaf.serial_number).revocation_date(NOW - HOUR)
        issuer = x509.CertificateIssuer([x509.DirectoryName(ca.cert.subject)])
        builder = builder.add_revoked_certificate(entry.add_extension(issuer, critical=True).build())
    web = Web()
    web.pages[url] = builder.sign(top.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    trust = parse_truststore(pem(top.cert, ca.cert))
    outcome = checker(web, REVOCATION_MODE="hard-fail").check((leaf, ca.cert, top.cert), NOW, trust)
    answers = [a.status for a in outcome.results[0].answers if a.source.startswith("crl")]
    assert answers == [Status.REVOKED if listed else Status.GOOD]


def test_a_bad_signature_over_a_real_crl_does_not_poison_the_real_one() -> None:
    """Signature checks are remembered per whole CRL (its TBS, algorithm and signature), not per TBS: a network
    attacker who serves the CA's real TBS with a broken signature first gets only that copy refused, and the CA's
    own CRL is accepted as soon as it is fetched."""
    top, ca = pki(crl_url=CRL_URL)
    store = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=True).cert
    genuine = crl_bytes(ca, next_update=NOW + 24 * HOUR)
    broken = bytearray(genuine)
    broken[-1] ^= 0x01  # the last octet of the signature value: still DER, no longer the CA's signature
    web = Web()
    web.pages[CRL_URL] = bytes(broken)
    check = checker(web, REVOCATION_MODE="hard-fail", REVOCATION_CACHE_SECONDS="0", REVOCATION_RETRY_SECONDS="0")
    assert refused(lambda: check.check((leaf, ca.cert), NOW, store)) == Reason.REVOCATION_UNAVAILABLE
    web.pages[CRL_URL] = genuine
    assert passes(check.check((leaf, ca.cert), NOW + dt.timedelta(seconds=1), store))


@pytest.mark.parametrize("replayed", ["compromise", "other reasons"])
def test_the_rollback_guard_remembers_every_crl_a_good_answer_used(replayed: str) -> None:
    """RFC 5280 5.2.3 over reason partitions (6.3.3 (d)): two CRLs #5 of the issuing CA, one per
    onlySomeReasons partition, answer "good" together. Both numbers are remembered, so a replayed #4 of either
    partition (CA-signed, inside its nextUpdate) is refused as a rollback, not only the partition read last."""
    from fixed import settings as fixed_settings
    from nodegate_authorizer.revocation.checker import RevocationChecker
    from nodegate_authorizer.revocation.crl_validation import ALL_REASONS

    top, ca = pki()
    trust = parse_truststore(pem(top.cert, ca.cert))
    leaf = client(ca, with_crl_url=False, with_ocsp_url=False).cert
    compromise = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})
    partitions = {"compromise": compromise, "other reasons": ALL_REASONS - compromise}

    def partition(name: str, number: int) -> bytes:
        return crl_bytes(ca, number=number, extensions=[idp(only_some_reasons=partitions[name])])

    current = stored(*(partition(name, 5) for name in partitions), crl_bytes(top))
    snapshot = [current]
    check = RevocationChecker(fixed_settings(REVOCATION_MODE="hard-fail"), Web(), lambda: snapshot[0], PathPolicy())
    path = (leaf, ca.cert, top.cert)
    assert passes(check.check(path, NOW, trust))
    snapshot[0] = stored(*(partition(name, 4 if name == replayed else 5) for name in partitions), crl_bytes(top))
    outcome = check.check(path, NOW, trust)
    assert outcome.refusal is not None
    assert outcome.refusal[0] == Reason.REVOCATION_UNAVAILABLE
    assert "rollback: #4 is below #5" in outcome.refusal[1]
