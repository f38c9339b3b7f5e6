"""A small certificate authority toolkit on ``cryptography``: CAs, client, server and OCSP signer
certificates, CRLs and OCSP responses. Used by ``nodegate pki`` and by the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOT_BEFORE_MARGIN = dt.timedelta(minutes=5)
"""notBefore is set this far in the past by default, for clocks that run a little behind."""
KEEP = object()
"""Sentinel: use the default for this kind of certificate."""


def utcnow() -> dt.datetime:
    """Timezone-aware now, truncated to seconds (certificates carry no fractions)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_key(kind: str = "ec") -> PrivateKey:
    """``ec`` (P-256), ``rsa`` (2048) or ``rsaNNNN`` for another RSA size."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    bits = int(kind[3:] or 2048)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(**attributes: str | Sequence[str]) -> x509.Name:
    """Build a Name from keyword attributes (CN, UID, O, OU); a list value repeats the attribute."""
    oids = {
        "CN": NameOID.COMMON_NAME,
        "UID": NameOID.USER_ID,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    }
    parts = []
    for key, value in attributes.items():
        for item in [value] if isinstance(value, str) else value:
            parts.append(x509.NameAttribute(oids[key], item))
    return x509.Name(parts)


def client_name(user: str, node: str, organization: str = "nodegate operators") -> x509.Name:
    """The subject nodegate expects by default: CN = node id, UID = user id."""
    return name(O=organization, UID=user, CN=node)


CA_USAGE = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
CLIENT_USAGE = x509.KeyUsage(True, False, False, False, False, False, False, False, False)


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        """PEM of the certificate."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM of the key."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def pkcs12(self, chain: Sequence[x509.Certificate], password: bytes) -> bytes:
        """PKCS#12 bundle with the chain, for tools that want one."""
        encryption = serialization.BestAvailableEncryption(password)
        return pkcs12.serialize_key_and_certificates(b"nodegate", self.key, self.cert, list(chain), encryption)


@dataclass
class CertificateAuthority(Issued):
    """A CA that issues certificates, CRLs and OCSP responses; ``crl_url``/``ocsp_url`` go into what it issues."""

    crl_url: str | None = None
    ocsp_url: str | None = None
    next_serial: Callable[[], int] = field(default=x509.random_serial_number)

    @classmethod
    def root(
        cls,
        common_name: str,
        *,
        key: str = "ec",
        days: int = 3650,
        not_before: dt.datetime | None = None,
        **urls: str | None,
    ) -> CertificateAuthority:
        """A self-signed root CA."""
        private = new_key(key)
        subject = name(O="nodegate dev PKI", CN=common_name)
        cert = build(
            subject,
            private.public_key(),
            subject,
            private,
            ca=True,
            days=days,
            key_usage=CA_USAGE,
            not_before=not_before,
        )
        return cls(cert, private, crl_url=urls.get("crl_url"), ocsp_url=urls.get("ocsp_url"))

    def issue(
        self,
        subject: x509.Name,
        *,
        key: PrivateKey | str = "ec",
        ca: bool = False,
        path_length: int | None = None,
        days: int = 365,
        not_before: dt.datetime | None = None,
        eku: Sequence[x509.ObjectIdentifier] | object | None = KEEP,
        key_usage: x509.KeyUsage | object | None = KEEP,
        with_crl_url: bool = True,
        with_ocsp_url: bool = True,
        sans: Sequence[x509.GeneralName] = (),
        hash_algorithm: hashes.HashAlgorithm | None = None,
        serial: int | None = None,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> Issued:
        """Issue a certificate under this CA (a client certificate unless ``ca`` is set); ``extensions`` are
        added as (value, critical) pairs."""
        private = new_key(key) if isinstance(key, str) else key
        cert = build(
            subject,
            private.public_key(),
            self.cert.subject,
            self.key,
            issuer_cert=self.cert,
            ca=ca,
            path_length=path_length,
            days=days,
            not_before=not_before,
            eku=([ExtendedKeyUsageOID.CLIENT_AUTH] if not ca else None) if eku is KEEP else eku,  # type: ignore[arg-type]
            key_usage=(CA_USAGE if ca else CLIENT_USAGE) if key_usage is KEEP else key_usage,  # type: ignore[arg-type]
            crl_url=self.crl_url if with_crl_url else None,
            ocsp_url=self.ocsp_url if with_ocsp_url else None,
            sans=sans,
            hash_algorithm=hash_algorithm,
            serial=serial or self.next_serial(),
            extensions=extensions,
        )
        return Issued(cert, private)

    def sub_ca(
        self,
        common_name: str,
        *,
        key: str = "ec",
        path_length: int | None = 0,
        not_before: dt.datetime | None = None,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
        **urls: str | None,
    ) -> CertificateAuthority:
        """An intermediate CA issued by this one (its key of kind ``key``); ``urls`` are the CRL/OCSP URLs *it*
        will embed."""
        issued = self.issue(
            name(O="nodegate dev PKI", CN=common_name),
            key=key,
            ca=True,
            path_length=path_length,
            days=1825,
            not_before=not_before,
            extensions=extensions,
        )
        return CertificateAuthority(issued.cert, issued.key, crl_url=urls.get("crl_url"), ocsp_url=urls.get("ocsp_url"))

    def ocsp_signer(self, *, days: int = 365) -> Issued:
        """A delegated OCSP responder certificate (EKU OCSPSigning) issued by this CA, with id-pkix-ocsp-nocheck:
        it has no revocation source of its own, so relying parties trust it for its lifetime (RFC 6960 4.2.2.2.1)."""
        subject = name(O="nodegate dev PKI", CN=f"{self.cert.subject.rfc4514_string()} OCSP responder")
        return self.issue(
            subject,
            eku=[ExtendedKeyUsageOID.OCSP_SIGNING],
            key_usage=CLIENT_USAGE,
            days=days,
            with_crl_url=False,
            with_ocsp_url=False,
            extensions=[(x509.OCSPNoCheck(), False)],
        )

    def crl(
        self,
        revoked: dict[int, dt.datetime] | None = None,
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
        signer: PrivateKey | None = None,
        number: int = 1,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
        reasons: dict[int, x509.ReasonFlags] | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL listing ``revoked`` serials (with ``reasons`` where given), valid for a day unless told otherwise;
        ``extensions`` are added as (value, critical) pairs."""
        now = this_update or utcnow()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now)
            .next_update(next_update or now + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for value, critical in extensions:
            builder = builder.add_extension(value, critical=critical)
        for serial, when in (revoked or {}).items():
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reasons and serial in reasons:
                entry = entry.add_extension(x509.CRLReason(reasons[serial]), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(signer or self.key, hashes.SHA256())

    def ocsp_response(
        self,
        request: ocsp.OCSPRequest,
        status: ocsp.OCSPCertStatus,
        *,
        revoked_at: dt.datetime | None = None,
        reason: x509.ReasonFlags | None = None,
        responder: Issued | None = None,
        this_update: dt.datetime | None = None,
        validity: dt.timedelta | None = dt.timedelta(hours=1),
        serial: int | None = None,
        by_name: bool = False,
        include_responder: bool = True,
    ) -> ocsp.OCSPResponse:
        """Answer ``request`` for this CA, signed by ``responder`` (a delegate) or by the CA itself; named by key
        hash (or ``by_name``); ``validity=None`` leaves nextUpdate out."""
        signer = responder or self
        now = this_update or utcnow()
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash,
            request.issuer_key_hash,
            serial or request.serial_number,
            request.hash_algorithm,
            status,
            now,
            now + validity if validity is not None else None,
            revoked_at if status is ocsp.OCSPCertStatus.REVOKED else None,
            reason if status is ocsp.OCSPCertStatus.REVOKED else None,
        )
        encoding = ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH
        builder = builder.responder_id(encoding, signer.cert)
        if responder is not None and include_responder:
            builder = builder.certificates([responder.cert])
        return builder.sign(signer.key, hashes.SHA256())


def build(
    subject: x509.Name,
    public_key: object,
    issuer_name: x509.Name,
    issuer_key: PrivateKey,
    *,
    issuer_cert: x509.Certificate | None = None,
    ca: bool = False,
    path_length: int | None = None,
    days: int = 365,
    not_before: dt.datetime | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    key_usage: x509.KeyUsage | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    sans: Sequence[x509.GeneralName] = (),
    hash_algorithm: hashes.HashAlgorithm | None = None,
    serial: int | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Build and sign one X.509 v3 certificate with exactly the extensions asked for."""
    start = not_before or utcnow() - NOT_BEFORE_MARGIN
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
    )
    if issuer_cert is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())  # type: ignore[arg-type]
        builder = builder.add_extension(aki, critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if ocsp_url:
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(issuer_key, hash_algorithm or hashes.SHA256())  # type: ignore[arg-type]


def as_v1(cert: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """The same certificate as X.509 v1 (no extensions), signed again by ``issuer_key`` with its hash.

    ``cryptography`` only builds v3; v1 certificates are what a test needs to show they are refused."""
    from asn1crypto import x509 as asn1

    algorithm = cert.signature_hash_algorithm
    if algorithm is None:
        raise ValueError("EdDSA certificates are not re-signed here")
    parsed = asn1.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["version"] = "v1"
    del tbs["extensions"]
    data = tbs.dump(force=True)
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        signature = issuer_key.sign(data, padding.PKCS1v15(), algorithm)
    else:
        signature = issuer_key.sign(data, ec.ECDSA(algorithm))
    parsed["tbs_certificate"] = asn1.TbsCertificate.load(data)
    parsed["signature_value"] = signature
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def pem(*certs: x509.Certificate) -> bytes:
    """Concatenated PEM of ``certs``."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    """DER encoding of a CRL, as served over HTTP."""
    return crl.public_bytes(serialization.Encoding.DER)
