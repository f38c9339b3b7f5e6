"""OCSP responses at a fixed clock: who may sign them (issuer or a delegate it issued, by key hash or by name),
their algorithms (PKCS#1 v1.5, PSS with SHA-2, anything else refused), and which certificate they answer for."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from fixed import HOUR, NOW, T0, client
from nodegate.pki.authority import CLIENT_USAGE, CertificateAuthority, Issued
from nodegate_authorizer.revocation.answers import SourceInvalid, Status
from nodegate_authorizer.revocation.ocsp import ocsp_answer

SKEW, MAX_AGE = dt.timedelta(seconds=60), HOUR


@pytest.fixture(scope="module")
def rsa_ca() -> CertificateAuthority:
    top = CertificateAuthority.root("OCSP Root", key="rsa", not_before=T0)
    issued = top.issue(x509.Name.from_rfc4514_string("CN=OCSP Issuing"), ca=True, key="rsa", not_before=T0)
    return CertificateAuthority(issued.cert, issued.key)


def request_for(leaf: x509.Certificate, ca: CertificateAuthority) -> ocsp.OCSPRequest:
    return ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.cert, hashes.SHA1()).build()


def respond(
    ca: CertificateAuthority,
    leaf: x509.Certificate,
    *,
    signer: Issued | None = None,
    by_name: bool = False,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: dt.datetime = NOW - HOUR,
    next_update: dt.datetime | None = NOW + HOUR,
    serial: int | None = None,
    include_signer: bool = True,
) -> bytes:
    response = ca.ocsp_response(
        request_for(leaf, ca),
        status,
        revoked_at=T0,
        responder=signer,
        this_update=this_update,
        validity=next_update - this_update if next_update else None,
        serial=serial,
        by_name=by_name,
        include_responder=include_signer,
    )
    return response.public_bytes(serialization.Encoding.DER)


def answer(data: bytes, leaf: x509.Certificate, ca: CertificateAuthority) -> Any:
    return ocsp_answer("ocsp:test", data, leaf, ca.cert, NOW, SKEW, MAX_AGE)


def delegate(ca: CertificateAuthority, *, eku: list[x509.ObjectIdentifier] | None = None, **kw: Any) -> Issued:
    return ca.issue(
        x509.Name.from_rfc4514_string("CN=OCSP responder"),
        eku=eku or [ExtendedKeyUsageOID.OCSP_SIGNING],
        key_usage=CLIENT_USAGE,
        with_crl_url=False,
        with_ocsp_url=False,
        **kw,
    )


@pytest.mark.parametrize("by_name", [False, True])
def test_issuer_and_delegate_signers(rsa_ca: CertificateAuthority, by_name: bool) -> None:
    leaf = client(rsa_ca).cert
    assert answer(respond(rsa_ca, leaf, by_name=by_name), leaf, rsa_ca).status is Status.GOOD
    good_delegate = delegate(rsa_ca, not_before=T0)
    assert answer(respond(rsa_ca, leaf, signer=good_delegate, by_name=by_name), leaf, rsa_ca).status is Status.GOOD


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ca: delegate(ca, eku=[ExtendedKeyUsageOID.CLIENT_AUTH], not_before=T0), "lacks the OCSPSigning EKU"),
        (lambda ca: delegate(ca, not_before=T0, days=30), "outside its validity"),
        (lambda ca: delegate(ca, not_before=NOW + HOUR), "outside its validity"),
        (lambda ca: delegate(CertificateAuthority.root("Other", not_before=T0), not_before=T0), "not issued by"),
    ],
    ids=["no-ocsp-signing-eku", "expired", "not-yet-valid", "issued-by-another-ca"],
)
def test_delegates_that_may_not_sign(rsa_ca: CertificateAuthority, make: Any, message: str) -> None:
    leaf = client(rsa_ca).cert
    with pytest.raises(SourceInvalid, match=message):
        answer(respond(rsa_ca, leaf, signer=make(rsa_ca)), leaf, rsa_ca)


def test_a_signer_that_is_neither_issuer_nor_an_included_delegate(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    absent = delegate(rsa_ca, not_before=T0)
    with pytest.raises(SourceInvalid, match="neither the issuer"):
        answer(respond(rsa_ca, leaf, signer=absent, include_signer=False), leaf, rsa_ca)


def test_delegate_named_like_the_right_one_but_issued_elsewhere(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    impostor_ca = CertificateAuthority(rsa_ca.cert, CertificateAuthority.root("x", key="rsa").key)
    forged = delegate(impostor_ca, not_before=T0)  # claims rsa_ca as issuer, signed by another key
    with pytest.raises(SourceInvalid, match="not issued by the certificate's issuer"):
        answer(respond(rsa_ca, leaf, signer=forged, by_name=True), leaf, rsa_ca)


def test_answer_must_name_this_certificate_and_be_fresh(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    with pytest.raises(SourceInvalid, match="does not cover this certificate"):
        answer(respond(rsa_ca, leaf, serial=leaf.serial_number + 1), leaf, rsa_ca)
    with pytest.raises(SourceInvalid, match="in the future"):
        answer(respond(rsa_ca, leaf, this_update=NOW + 2 * SKEW), leaf, rsa_ca)
    with pytest.raises(SourceInvalid, match="stale"):
        answer(respond(rsa_ca, leaf, this_update=NOW - 3 * HOUR, next_update=NOW - 2 * SKEW), leaf, rsa_ca)
    no_next = answer(respond(rsa_ca, leaf, this_update=NOW - HOUR / 2, next_update=None), leaf, rsa_ca)
    assert no_next.valid_until == NOW - HOUR / 2 + MAX_AGE
    revoked = answer(respond(rsa_ca, leaf, status=ocsp.OCSPCertStatus.REVOKED), leaf, rsa_ca)
    assert revoked.status is Status.REVOKED
    with pytest.raises(SourceInvalid, match="does not know"):
        answer(respond(rsa_ca, leaf, status=ocsp.OCSPCertStatus.UNKNOWN), leaf, rsa_ca)
    with pytest.raises(SourceInvalid, match="malformed"):
        answer(b"\x30\x03garbage", leaf, rsa_ca)
    unauthorized = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    with pytest.raises(SourceInvalid, match="UNAUTHORIZED"):
        answer(unauthorized.public_bytes(serialization.Encoding.DER), leaf, rsa_ca)


def _pss(data: bytes, key: Any, name: str, mgf_name: str | None = None, salt: int = 32) -> bytes:
    """Re-sign a DER response with RSASSA-PSS parameters (hash ``name``, MGF1 with ``mgf_name``)."""
    from asn1crypto import algos
    from asn1crypto import ocsp as asn1_ocsp

    response = asn1_ocsp.OCSPResponse.load(data)
    basic = response["response_bytes"]["response"].parsed
    params = algos.RSASSAPSSParams(
        {
            "hash_algorithm": {"algorithm": name},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mgf_name or name}},
            "salt_length": salt,
        }
    )
    basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    algorithm = {
        "sha1": hashes.SHA1(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[name]
    pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=salt)
    basic["signature"] = key.sign(basic["tbs_response_data"].dump(), pss, algorithm)
    response["response_bytes"]["response"] = asn1_ocsp.BasicOCSPResponse.load(basic.dump(force=True))
    return response.dump(force=True)


@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512"])
def test_pss_with_sha2_is_verified(rsa_ca: CertificateAuthority, name: str) -> None:
    leaf = client(rsa_ca).cert
    assert answer(_pss(respond(rsa_ca, leaf), rsa_ca.key, name), leaf, rsa_ca).status is Status.GOOD
    signed_by_other = _pss(respond(rsa_ca, leaf), CertificateAuthority.root("x", key="rsa").key, name)
    with pytest.raises(SourceInvalid, match="signature is not valid"):
        answer(signed_by_other, leaf, rsa_ca)


def test_pss_parameters_we_do_not_verify(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    with pytest.raises(SourceInvalid, match="parameters not supported"):
        answer(_pss(respond(rsa_ca, leaf), rsa_ca.key, "sha256", mgf_name="sha384"), leaf, rsa_ca)
    with pytest.raises(SourceInvalid, match="parameters not supported"):
        answer(_pss(respond(rsa_ca, leaf), rsa_ca.key, "sha1"), leaf, rsa_ca)


def test_clock_skew_is_forgiven_on_ocsp_times_and_no_more(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    assert answer(respond(rsa_ca, leaf, this_update=NOW + SKEW / 2), leaf, rsa_ca).status is Status.GOOD
    with pytest.raises(SourceInvalid, match="in the future"):
        answer(respond(rsa_ca, leaf, this_update=NOW + 2 * SKEW), leaf, rsa_ca)
    late = respond(rsa_ca, leaf, this_update=NOW - HOUR, next_update=NOW - SKEW / 2)
    assert answer(late, leaf, rsa_ca).status is Status.GOOD
    with pytest.raises(SourceInvalid, match="stale"):
        answer(respond(rsa_ca, leaf, this_update=NOW - 3 * HOUR, next_update=None), leaf, rsa_ca)  # MAX_AGE passed


def test_the_delegate_is_found_among_several_certificates_and_its_validity_is_inclusive(
    rsa_ca: CertificateAuthority,
) -> None:
    from cryptography.hazmat.primitives import serialization as ser

    leaf = client(rsa_ca).cert
    signer = delegate(rsa_ca, not_before=NOW)  # valid from exactly now
    bystander = delegate(CertificateAuthority.root("Bystander", not_before=T0), not_before=T0)
    request = request_for(leaf, rsa_ca)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            request.issuer_name_hash,
            request.issuer_key_hash,
            request.serial_number,
            request.hash_algorithm,
            ocsp.OCSPCertStatus.GOOD,
            NOW - HOUR,
            NOW + HOUR,
            None,
            None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
        .certificates([bystander.cert, signer.cert])
    )
    data = builder.sign(signer.key, hashes.SHA256()).public_bytes(ser.Encoding.DER)
    assert answer(data, leaf, rsa_ca).status is Status.GOOD


def test_ocsp_bounds_are_inclusive(rsa_ca: CertificateAuthority) -> None:
    leaf = client(rsa_ca).cert
    assert answer(respond(rsa_ca, leaf, this_update=NOW + SKEW), leaf, rsa_ca).status is Status.GOOD
    assert (
        answer(respond(rsa_ca, leaf, this_update=NOW - HOUR, next_update=NOW - SKEW), leaf, rsa_ca).status
        is Status.GOOD
    )
    ending = delegate(rsa_ca, not_before=NOW - dt.timedelta(days=1), days=1)  # valid until exactly NOW
    assert ending.cert.not_valid_after_utc == NOW
    assert answer(respond(rsa_ca, leaf, signer=ending), leaf, rsa_ca).status is Status.GOOD


# --- issue 23: OCSP bytes that raise inside cryptography, and weak signatures ------------------------------


def _rename_oid(data: bytes, placeholder: str, target: str) -> bytes:
    from test_crl_store import duplicated

    return duplicated(data, x509.ObjectIdentifier(placeholder), x509.ObjectIdentifier(target))


SHA256 = hashes.SHA256()


def _resign(data: bytes, key: Any, mutate: Any, algorithm: hashes.HashAlgorithm = SHA256) -> bytes:
    """Re-sign a DER OCSP response after ``mutate`` changed its parsed tbsResponseData (asn1crypto)."""
    from asn1crypto import algos
    from asn1crypto import ocsp as asn1_ocsp

    response = asn1_ocsp.OCSPResponse.load(data)
    basic = response["response_bytes"]["response"].parsed
    mutate(basic["tbs_response_data"])
    tbs = asn1_ocsp.ResponseData.load(basic["tbs_response_data"].dump(force=True))
    basic["tbs_response_data"] = tbs
    basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": f"{algorithm.name}_rsa"})
    basic["signature"] = key.sign(tbs.dump(), padding.PKCS1v15(), algorithm)
    response["response_bytes"]["response"] = asn1_ocsp.BasicOCSPResponse.load(basic.dump(force=True))
    return response.dump(force=True)


def _sha3_single_first(tbs: Any) -> None:
    from asn1crypto import ocsp as asn1_ocsp

    extra = asn1_ocsp.SingleResponse.load(tbs["responses"][0].dump())
    extra["cert_id"]["hash_algorithm"] = {"algorithm": "sha3_256"}
    extra["cert_id"]["serial_number"] = 12345
    tbs["responses"] = [extra, *tbs["responses"]]


def _key_compromise(tbs: Any) -> None:
    tbs["responses"][0]["cert_status"].chosen["revocation_reason"] = "key_compromise"


def _duplicated_single_extension(tbs: Any) -> None:
    extension = {"extn_id": "1.3.6.1.4.1.55555.7", "critical": False, "extn_value": b"\x05\x00"}
    tbs["responses"][0]["single_extensions"] = [extension, extension]


@pytest.mark.parametrize(
    "broken",
    [
        "delegate with a duplicated extension",
        "response with a duplicated extension",
        "single response with a duplicated extension",
        "delegate whose signature parameters do not read",
        "revocation reason code 7 (unassigned)",
        "extra SHA3-256 CertID",
    ],
)
def test_ocsp_bytes_that_raise_inside_cryptography_are_no_answer(rsa_ca: CertificateAuthority, broken: str) -> None:
    """The response is one boundary: any parse or algorithm error of any field is SourceInvalid (no answer),
    never an exception out of the authorizer. A single response whose CertID we cannot hash is skipped."""
    leaf = rsa_ca.issue(x509.Name.from_rfc4514_string("CN=leaf"), not_before=T0).cert
    if broken == "delegate with a duplicated extension":
        placeholder = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.96"), b"\x30\x00")
        signer = delegate(rsa_ca, not_before=T0, extensions=[(placeholder, False)])
        data = _rename_oid(respond(rsa_ca, leaf, signer=signer), "2.5.29.96", "2.5.29.37")
    elif broken == "response with a duplicated extension":
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                leaf, rsa_ca.cert, hashes.SHA1(), ocsp.OCSPCertStatus.GOOD, NOW - HOUR, NOW + HOUR, None, None
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, rsa_ca.cert)
            .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.5.5.7.48.1.99"), b"\x04\x00"), False
            )
        )
        der = builder.sign(rsa_ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        data = _rename_oid(der, "1.3.6.1.5.5.7.48.1.99", "1.3.6.1.5.5.7.48.1.2")
    elif broken == "delegate whose signature parameters do not read":
        signer = delegate(rsa_ca, not_before=T0)
        signer = Issued(_md5_pss_certificate(signer.cert), signer.key)
        data = respond(rsa_ca, leaf, signer=signer)
    elif broken == "revocation reason code 7 (unassigned)":
        revoked = respond(rsa_ca, leaf, status=ocsp.OCSPCertStatus.REVOKED)
        data = _resign(revoked, rsa_ca.key, _key_compromise)
        reason = bytes.fromhex("a0030a0101")  # [0] EXPLICIT ENUMERATED 1 (keyCompromise)
        assert data.count(reason) == 1
        data = data.replace(reason, bytes.fromhex("a0030a0107"))  # cryptography raises when it is read
    elif broken == "single response with a duplicated extension":
        data = _resign(respond(rsa_ca, leaf), rsa_ca.key, _duplicated_single_extension)
    else:
        data = _resign(respond(rsa_ca, leaf), rsa_ca.key, _sha3_single_first)
        assert answer(data, leaf, rsa_ca).status == "good"  # the extra single is skipped, ours still answers
        data = _resign(respond(rsa_ca, leaf, serial=leaf.serial_number + 1), rsa_ca.key, _sha3_single_first)
    expected = "does not cover" if broken == "extra SHA3-256 CertID" else "malformed OCSP response"
    with pytest.raises(SourceInvalid, match=expected):
        answer(data, leaf, rsa_ca)


@pytest.mark.parametrize("weak", [hashes.SHA1(), hashes.MD5()], ids=["sha1", "md5"])
def test_weak_ocsp_signatures_and_delegates_are_refused(rsa_ca: CertificateAuthority, weak: Any) -> None:
    """The weak-algorithm rules of certificates (certificates.WEAK_HASHES, key_weakness) apply to OCSP."""
    leaf = rsa_ca.issue(x509.Name.from_rfc4514_string("CN=leaf"), not_before=T0).cert
    assert answer(_resign(respond(rsa_ca, leaf), rsa_ca.key, lambda _: None), leaf, rsa_ca).status == "good"
    with pytest.raises(SourceInvalid, match=weak.name):
        answer(_resign(respond(rsa_ca, leaf), rsa_ca.key, lambda _: None, weak), leaf, rsa_ca)
    strong = delegate(rsa_ca, not_before=T0)
    assert answer(respond(rsa_ca, leaf, signer=strong), leaf, rsa_ca).status == "good"
    weakly_signed = Issued(_resigned_certificate(strong.cert, rsa_ca.key, weak), strong.key)
    with pytest.raises(SourceInvalid, match=weak.name):
        answer(respond(rsa_ca, leaf, signer=weakly_signed), leaf, rsa_ca)


def _resigned_certificate(cert: x509.Certificate, key: Any, algorithm: hashes.HashAlgorithm) -> x509.Certificate:
    """``cert`` signed again by ``key`` with RSA PKCS#1 v1.5 and ``algorithm`` (asn1crypto: ``cryptography``
    refuses to make SHA-1 and MD5 signatures)."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    name = {"algorithm": f"{algorithm.name}_rsa"}
    parsed["tbs_certificate"]["signature"] = name
    tbs = asn1_x509.TbsCertificate.load(parsed["tbs_certificate"].dump(force=True))
    parsed["tbs_certificate"] = tbs
    parsed["signature_algorithm"] = name
    parsed["signature_value"] = key.sign(tbs.dump(), padding.PKCS1v15(), algorithm)
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def _md5_pss_certificate(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` claiming an RSASSA-PSS signature with MD5: it loads, and its signature parameters raise."""
    from asn1crypto import algos
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    params = {
        "hash_algorithm": {"algorithm": "md5"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "md5"}},
        "salt_length": 32,
    }
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    parsed["tbs_certificate"]["signature"] = algorithm
    parsed["signature_algorithm"] = algorithm
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def test_an_ecdsa_signature_under_an_rsa_algorithm_is_not_valid() -> None:
    """An OCSP answer's signature counts only under an algorithm its signer's key can make (as for certificates):
    an ECDSA-SHA256 signature relabelled sha256WithRSAEncryption verified before, with the EC key and SHA-256."""
    from asn1crypto import algos
    from asn1crypto import ocsp as asn1_ocsp

    top = CertificateAuthority.root("EC OCSP Root", not_before=T0)
    issued = top.issue(x509.Name.from_rfc4514_string("CN=EC OCSP Issuing"), ca=True, not_before=T0)
    ca = CertificateAuthority(issued.cert, issued.key)
    leaf = client(ca).cert
    data = respond(ca, leaf)
    assert answer(data, leaf, ca).status is Status.GOOD
    response = asn1_ocsp.OCSPResponse.load(data)
    basic = response["response_bytes"]["response"].parsed
    basic["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})
    response["response_bytes"]["response"] = asn1_ocsp.BasicOCSPResponse.load(basic.dump(force=True))
    with pytest.raises(SourceInvalid, match="does not match its signer's key"):
        answer(response.dump(force=True), leaf, ca)
