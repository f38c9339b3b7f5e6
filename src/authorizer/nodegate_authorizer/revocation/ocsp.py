"""OCSP: build a request, and verify a response against the issuer or its delegated responder.

Loading is the boundary for OCSP bytes: every field ``cryptography`` parses lazily (responder id, extensions,
single responses and their times, included certificates and their extensions, signature algorithm) is read
in ``_load``, so any parse or algorithm error becomes a SourceInvalid and nothing raises later."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives._serialization import Encoding  # see certificates.py
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from ..certificates import (
    WEAK_HASHES,
    Padding,
    extension,
    issued_by,
    key_makes,
    key_weakness,
    signature_weakness,
    structure_problem,
    verify_signature,
)
from .answers import PARSE_ERRORS, Answer, SourceInvalid, Status

PSS_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """DER OCSP request for ``cert`` (SHA-1 CertID, as RFC 6960 responders expect)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(Encoding.DER)


def _key_hash(cert: x509.Certificate) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def _load(data: bytes) -> tuple[ocsp.OCSPResponse, list[ocsp.OCSPSingleResponse]]:
    """The response and its single responses whose CertID hash we support, every lazy field read; raise
    SourceInvalid for anything that does not parse or is not a successful answer."""
    try:
        response = ocsp.load_der_ocsp_response(data)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise SourceInvalid(f"OCSP responder said {response.response_status.name}")
        _ = response.responder_name, response.responder_key_hash, response.extensions
        every = list(response.responses)
        if len(every) == 1:  # cryptography exposes singleExtensions for a lone SingleResponse only
            _ = response.single_extensions
        for included in response.certificates:
            _ = included.extensions, included.subject, included.issuer, included.public_key()
            _ = included.not_valid_before_utc, included.not_valid_after_utc, included.signature_algorithm_parameters
        singles = []
        for single in every:
            try:
                _ = single.hash_algorithm
            except UnsupportedAlgorithm:
                continue  # a CertID hashed with an algorithm we cannot compute names no certificate we ask about
            _ = single.serial_number, single.issuer_key_hash, single.issuer_name_hash, single.certificate_status
            _ = single.this_update_utc, single.next_update_utc, single.revocation_time_utc, single.revocation_reason
            singles.append(single)
    except SourceInvalid:
        raise
    except PARSE_ERRORS as exc:
        raise SourceInvalid(f"malformed OCSP response: {exc.__class__.__name__}: {exc}") from None
    return response, singles


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate:
    """The certificate that must have signed ``response``: the issuer, or a delegate it issued."""

    def named(candidate: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return candidate.subject == response.responder_name
        return _key_hash(candidate) == response.responder_key_hash

    if named(issuer):
        return issuer
    for delegate in response.certificates:
        if not named(delegate):
            continue
        problem = structure_problem(delegate)
        if problem:
            raise SourceInvalid(f"delegated OCSP responder certificate is malformed: {problem}")
        purposes = extension(delegate, x509.ExtendedKeyUsage)
        if purposes is None or ExtendedKeyUsageOID.OCSP_SIGNING not in purposes:
            raise SourceInvalid("delegated OCSP responder lacks the OCSPSigning EKU")
        if not issued_by(delegate, issuer):
            raise SourceInvalid("delegated OCSP responder was not issued by the certificate's issuer")
        if not delegate.not_valid_before_utc <= now <= delegate.not_valid_after_utc:
            raise SourceInvalid("delegated OCSP responder certificate is outside its validity")
        weakness = signature_weakness(delegate) or key_weakness(delegate.public_key())
        if weakness:
            raise SourceInvalid(f"delegated OCSP responder: {weakness}")
        return delegate
    raise SourceInvalid("OCSP response is signed by neither the issuer nor a delegate it issued")


def signature_algorithm(response: ocsp.OCSPResponse, data: bytes) -> tuple[hashes.HashAlgorithm | None, Padding | None]:
    """The hash and RSA padding of the response's signature; RSASSA-PSS parameters are read with asn1crypto
    (``cryptography`` does not expose them for OCSP). Raise SourceInvalid for anything else we cannot verify."""
    if response.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        try:
            return response.signature_hash_algorithm, None
        except UnsupportedAlgorithm:
            oid = response.signature_algorithm_oid.dotted_string
            raise SourceInvalid(f"OCSP signature algorithm {oid} is not supported") from None
    from asn1crypto import ocsp as asn1_ocsp

    try:
        basic = asn1_ocsp.OCSPResponse.load(data)["response_bytes"]["response"].parsed
        params = basic["signature_algorithm"]["parameters"]
        name = params["hash_algorithm"]["algorithm"].native
        mgf = params["mask_gen_algorithm"]
        salt = params["salt_length"].native
        if mgf["algorithm"].native != "mgf1" or mgf["parameters"]["algorithm"].native != name or name not in PSS_HASHES:
            raise SourceInvalid(f"OCSP RSASSA-PSS parameters not supported ({name}, {mgf['algorithm'].native})")
    except (ValueError, TypeError, KeyError) as exc:
        raise SourceInvalid(f"OCSP RSASSA-PSS parameters do not parse: {exc}") from None
    algorithm = PSS_HASHES[name]()
    return algorithm, padding.PSS(mgf=padding.MGF1(algorithm), salt_length=salt)


def ocsp_answer(
    source: str,
    data: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    skew: timedelta,
    max_age: timedelta,
) -> Answer:
    """Verify a DER OCSP response for ``cert``; raise SourceInvalid unless it is a signed, fresh answer with a
    strong signature (the weak-algorithm rules of certificates). A delegate's answer carries the delegate
    (``Answer.delegate``): unless it has id-pkix-ocsp-nocheck, the caller checks its status (RFC 6960 4.2.2.2.1)."""
    response, singles = _load(data)
    try:
        signer = _signer(response, issuer, now)
        if not key_makes(signer.public_key(), response.signature_algorithm_oid):
            raise SourceInvalid("OCSP response's signature algorithm does not match its signer's key")
        algorithm, rsa_padding = signature_algorithm(response, data)
        if isinstance(algorithm, WEAK_HASHES):
            raise SourceInvalid(f"OCSP response has a {algorithm.name} signature")
        verify_signature(signer.public_key(), response.signature, response.tbs_response_bytes, algorithm, rsa_padding)
    except InvalidSignature:
        raise SourceInvalid("OCSP response signature is not valid") from None
    except PARSE_ERRORS as exc:
        raise SourceInvalid(f"OCSP response cannot be checked: {exc.__class__.__name__}: {exc}") from None
    for single in singles:
        expected = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm).build()
        if (
            single.serial_number == cert.serial_number
            and single.issuer_key_hash == expected.issuer_key_hash
            and single.issuer_name_hash == expected.issuer_name_hash
        ):
            break
    else:
        raise SourceInvalid("OCSP response does not cover this certificate")
    if single.this_update_utc > now + skew:
        raise SourceInvalid("OCSP thisUpdate is in the future")
    valid_until = single.next_update_utc or single.this_update_utc + max_age
    if now - skew > valid_until:
        raise SourceInvalid(f"OCSP answer is stale: valid until {valid_until.isoformat()}")
    signed = "" if signer is issuer else f" (signed by delegate {signer.subject.rfc4514_string()[:120]})"
    unchecked = None if signer is issuer or extension(signer, x509.OCSPNoCheck) else signer
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        when = single.revocation_time_utc.isoformat() if single.revocation_time_utc else "unknown time"
        return Answer(
            source, Status.REVOKED, f"revoked at {when}{signed}", valid_until, single.this_update_utc, unchecked
        )
    if single.certificate_status is ocsp.OCSPCertStatus.UNKNOWN:
        raise SourceInvalid("OCSP responder does not know this certificate")
    return Answer(source, Status.GOOD, f"good{signed}", valid_until, single.this_update_utc, unchecked)
