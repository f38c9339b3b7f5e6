"""What a mutant reached (DER parse, signature) and what the rules say about an Allow it got.

An Allow is judged only where the rule is exact:

- (b)/(c) not signed again: the signed bytes (TBS and signature) of the changed certificate must be the
  original ones and, below the anchor, its signatureAlgorithm still the TBS signature field (RFC 5280 4.1.1.2);
  a changed revocation source of a revoked leaf must never let it pass;
- (d) signed again: an Allow needs what RFC 5280 / RFC 6960 require of the changed object. For a CRL: the
  leaf's serial is not listed as revoked (an entry counts when the CRL keeps the original issuer and has no
  issuingDistributionPoint, and the entry's revocationDate is not after now and its only extensions are one
  reasonCode other than removeFromCRL and one invalidityDate). For an OCSP answer: no
  single response names the leaf's serial as revoked. For a delegate: it is valid now and has the
  id-kp-OCSPSigning purpose (RFC 6960 4.2.2.2). For a leaf or CA certificate: valid now, no duplicate
  extension, and (leaf) exactly one UID and one CN equal to the requested node, not a CA, and extendedKeyUsage
  (when present) allowing clientAuth; below the anchor also: the TBS signature field equals signatureAlgorithm
  (4.1.1.2), the version is one X.509 defines (4.1.2.1) and only a v3 certificate has extensions (4.1.2.9)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from .der import CONTEXT, encode, parse
from .targets import Mutant, Pki


def _certificate(mutant: Mutant) -> x509.Certificate:
    if mutant.part == "delegate":
        return ocsp.load_der_ocsp_response(mutant.data).certificates[0]
    return x509.load_der_x509_certificate(mutant.data)


def _verifies(key: object, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any failure means "does not verify"
        return False
    return True


def _duplicated_extension(item: object) -> bool:
    """True when any extension list of a parsed CRL, OCSP answer or certificate repeats an extension."""
    lists = ["extensions"]
    if isinstance(item, ocsp.OCSPResponse):
        lists.append("single_extensions")
    try:
        for name in lists:
            _ = getattr(item, name)
        for entry in item if isinstance(item, x509.CertificateRevocationList) else ():
            _ = entry.extensions
        for cert in item.certificates if isinstance(item, ocsp.OCSPResponse) else ():
            _ = cert.extensions
    except x509.DuplicateExtension:
        return True
    except Exception:  # noqa: BLE001 - other parse errors are not this stage
        return False
    return False


def stages(mutant: Mutant, pki: Pki) -> list[str]:
    """The stages this mutant passed: ``der`` (the kind's cryptography loader takes it) and ``signature``."""
    reached: list[str] = []
    try:
        if mutant.part in ("crl",):
            crl = x509.load_der_x509_crl(mutant.data)
            reached += ["der", "duplicate extension"] if _duplicated_extension(crl) else ["der"]
            if _verifies(pki.issuing.cert.public_key(), crl.signature, crl.tbs_certlist_bytes):
                reached.append("signature")
        elif mutant.part == "ocsp":
            response = ocsp.load_der_ocsp_response(mutant.data)
            reached += ["der", "duplicate extension"] if _duplicated_extension(response) else ["der"]
            if _verifies(pki.delegate.cert.public_key(), response.signature, response.tbs_response_bytes):
                reached.append("signature")
        else:
            cert = _certificate(mutant)
            reached += ["der", "duplicate extension"] if _duplicated_extension(cert) else ["der"]
            issuer = pki.root if mutant.part in ("root", "intermediate") else pki.issuing
            if _verifies(issuer.cert.public_key(), cert.signature, cert.tbs_certificate_bytes):
                reached.append("signature")
    except Exception:  # noqa: BLE001 - cryptography raises ValueError, InvalidVersion and others on bad DER
        pass
    return reached


def _signed_bytes_unchanged(mutant: Mutant) -> bool:
    original = x509.load_der_x509_certificate(mutant.original) if mutant.part != "delegate" else None
    if original is None:
        original = ocsp.load_der_ocsp_response(mutant.original).certificates[0]
    try:
        cert = _certificate(mutant)
    except Exception:  # noqa: BLE001 - not a certificate at all
        return False
    return cert.tbs_certificate_bytes == original.tbs_certificate_bytes and cert.signature == original.signature


def _valid_now(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _form_problem(cert: x509.Certificate) -> str | None:
    """RFC 5280 4.1.1.2: signatureAlgorithm equals the TBS signature field; 4.1.2.1: v1-v3 only; 4.1.2.9:
    extensions only in v3."""
    signed = parse(cert.public_bytes(serialization.Encoding.DER))
    tbs = signed.children[0]  # type: ignore[index]
    fields = tbs.children or []
    versioned = fields[0].cls == CONTEXT and fields[0].number == 0
    if encode(fields[2 if versioned else 1]) != encode(signed.children[1]):  # type: ignore[index]
        return "has a TBS signature field unlike its signatureAlgorithm (RFC 5280 4.1.1.2)"
    try:
        version = cert.version
    except x509.InvalidVersion:
        return "has a version X.509 does not define (RFC 5280 4.1.2.1)"
    if version is not x509.Version.v3 and any(f.cls == CONTEXT and f.number == 3 for f in fields):
        return f"is {version.name} with extensions (RFC 5280 4.1.2.9)"
    return None


def _certificate_problem(cert: x509.Certificate, now: dt.datetime, leaf: bool) -> str | None:
    if not _valid_now(cert, now):
        return "outside its validity period"
    try:
        extensions = cert.extensions
    except x509.DuplicateExtension:
        return "has a duplicated extension"
    except Exception:  # noqa: BLE001 - cryptography's parse errors are not all ValueError
        return "has extensions that do not parse"
    if not leaf:
        return None
    subject = cert.subject
    users = subject.get_attributes_for_oid(NameOID.USER_ID)
    nodes = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(users) != 1 or len(nodes) != 1 or nodes[0].value != "node-1":
        return "subject does not hold one UID and CN=node-1"
    try:
        constraints = extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
        if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
            return "is a CA certificate"
    except x509.ExtensionNotFound:
        pass
    try:
        usage = extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
        if isinstance(usage, x509.ExtendedKeyUsage) and not {
            ExtendedKeyUsageOID.CLIENT_AUTH,
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        } & set(usage):
            return "extendedKeyUsage does not allow clientAuth"
    except x509.ExtensionNotFound:
        pass
    return None


def _crl_still_revokes(data: bytes, serial: int, pki: Pki) -> bool:
    try:
        crl = x509.load_der_x509_crl(data)
        if crl.issuer != pki.issuing.cert.subject:
            return False
        try:
            crl.extensions.get_extension_for_oid(ExtensionOID.ISSUING_DISTRIBUTION_POINT)
            return False
        except x509.ExtensionNotFound:
            pass
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        if entry is None or entry.revocation_date_utc > pki.clock():
            return False
        extensions = list(entry.extensions)
        if len({e.oid for e in extensions}) != len(extensions):
            return False
        return all(
            isinstance(e.value, x509.InvalidityDate)
            or (isinstance(e.value, x509.CRLReason) and e.value.reason is not x509.ReasonFlags.remove_from_crl)
            for e in extensions
        )
    except Exception:  # noqa: BLE001 - a CRL that does not parse revokes nothing
        return False


def _ocsp_still_revokes(data: bytes, serial: int) -> bool:
    try:
        response = ocsp.load_der_ocsp_response(data)
        return any(
            single.serial_number == serial and single.certificate_status is ocsp.OCSPCertStatus.REVOKED
            for single in response.responses
        )
    except Exception:  # noqa: BLE001 - an answer that does not parse revokes nothing
        return False


def wrong_allow(mutant: Mutant, pki: Pki) -> str | None:
    """Why an Allow for this mutant breaks a rule, or None when the rules permit it."""
    if mutant.data == mutant.original:
        return None
    serial = pki.leaves[mutant.kind].cert.serial_number
    if not mutant.resign:
        if mutant.part in ("crl", "ocsp"):
            return "(c) the leaf is revoked in the original source, whose signed bytes were changed"
        if not _signed_bytes_unchanged(mutant):
            return f"(b) the {mutant.part} certificate's signed bytes changed and it was not signed again"
        problem = _form_problem(_certificate(mutant)) if mutant.part != "root" else None
        return f"(b) the {mutant.part} certificate {problem}" if problem else None
    if mutant.part == "crl":
        still = _crl_still_revokes(mutant.data, serial, pki)
        return "(d) the re-signed CRL still revokes the leaf" if still else None
    if mutant.part == "ocsp":
        still = _ocsp_still_revokes(mutant.data, serial)
        return "(d) the re-signed OCSP answer still revokes the leaf" if still else None
    try:
        cert = _certificate(mutant)
    except Exception:  # noqa: BLE001 - an Allow through a certificate that does not parse
        return f"(d) the {mutant.part} certificate does not parse"
    problem = _certificate_problem(cert, pki.clock(), mutant.part == "leaf")
    if problem is None and mutant.part != "root":  # an anchor's own form is outside path validation (6.1.1 d)
        problem = _form_problem(cert)
    if problem is None and mutant.part == "delegate":
        try:
            purposes = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
            if not isinstance(purposes, x509.ExtendedKeyUsage) or ExtendedKeyUsageOID.OCSP_SIGNING not in purposes:
                problem = "lacks id-kp-OCSPSigning"
        except x509.ExtensionNotFound:
            problem = "has no extendedKeyUsage (id-kp-OCSPSigning)"
    return f"(d) the re-signed {mutant.part} certificate {problem}" if problem else None


def pyca_refusal(mutant: Mutant, pki: Pki) -> str | None:
    """For an Allowed chain mutant (leaf or truststore entry): why pyca's ClientVerifier refuses the same chain
    at the same time, or None when it accepts. A second opinion, counted and kept, not an invariant: the two
    differ on purpose in places (docs/conformance.md)."""
    try:
        changed = x509.load_der_x509_certificate(mutant.data)
        root = changed if mutant.part == "root" else pki.root.cert
        issuing = changed if mutant.part == "intermediate" else pki.issuing.cert
        leaf = changed if mutant.part == "leaf" else pki.leaves[mutant.kind].cert
        verifier = PolicyBuilder().store(Store([root])).time(pki.clock()).build_client_verifier()
        verifier.verify(leaf, [issuing])
    except Exception as exc:  # noqa: BLE001 - any refusal, whatever its type
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None
