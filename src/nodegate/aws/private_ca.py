"""Operators' certificates from AWS Private CA. The key and the CSR are made here and the key never leaves this
machine; the CA signs the CSR (IssueCertificate with an API-passthrough template that carries the identity: the
subject's attributes and the subject alternative names), revokes through RevokeCertificate, and a ledger in the
directory records what was issued and revoked (``private-ca.json``, ``ledger.json``, ``clients/``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodegate.aws.session import AwsError, error_code, one_line
from nodegate.pki.bundle import public_bundle
from nodegate.pki.state import FILE_NAME, Maybe, read_state
from nodegate_authorizer.certificates import PARSE_ERRORS

CLIENT_TEMPLATE = "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate_APIPassthrough/V1"
"""A client-authentication end-entity template that takes the subject and SANs from ApiPassthrough."""
SIGNING = {"RSA": "SHA256WITHRSA", "EC_": "SHA256WITHECDSA"}
"""IssueCertificate's SigningAlgorithm by the CA's KeyAlgorithm prefix (RSA_2048, EC_prime256v1, ...)."""
REVOCATION_REASONS = {
    "unspecified": "UNSPECIFIED",
    "key_compromise": "KEY_COMPROMISE",
    "ca_compromise": "CERTIFICATE_AUTHORITY_COMPROMISE",
    "affiliation_changed": "AFFILIATION_CHANGED",
    "superseded": "SUPERSEDED",
    "cessation_of_operation": "CESSATION_OF_OPERATION",
    "privilege_withdrawn": "PRIVILEGE_WITHDRAWN",
    "aa_compromise": "A_A_COMPROMISE",
}
"""RFC 5280 5.3.1 reason names (as ``pki revoke --reason`` takes them) to RevokeCertificate's; AWS Private CA has
no certificateHold."""
SAN_KINDS: dict[str, tuple[type[x509.UniformResourceIdentifier | x509.RFC822Name | x509.DNSName], str]] = {
    "uri": (x509.UniformResourceIdentifier, "UniformResourceIdentifier"),
    "email": (x509.RFC822Name, "Rfc822Name"),
    "dns": (x509.DNSName, "DnsName"),
}
"""``--san`` kinds: the general name and its ApiPassthrough field."""
CONFIG, LEDGER = "private-ca.json", "ledger.json"
CONFIG_SHAPE = {"ca_arn": str, "region": (str, None), "key_algorithm": Maybe(str)}  # older directories: no algorithm
LEDGER_SHAPE = [
    {
        "serial": str,
        "subject": str,
        "sans": [str],
        "ca": str,
        "certificate_arn": str,
        "file": FILE_NAME,
        "not_after": (str, None),
        "revoked_at": Maybe((str, None)),
        "reason": Maybe((str, None)),
    }
]


@dataclass(frozen=True)
class Identity:
    """What the certificate says about its holder: the subject's attributes in order and the SANs."""

    subject: x509.Name
    sans: tuple[x509.UniformResourceIdentifier | x509.RFC822Name | x509.DNSName, ...] = ()


@dataclass(frozen=True)
class LedgerRow:
    """One certificate the directory had issued: what ``pki list`` shows, and its ARN and SANs."""

    serial: str
    subject: str
    sans: list[str]
    ca: str
    certificate_arn: str
    file: str
    not_after: str | None
    revoked_at: str | None = None
    reason: str | None = None


def parse_san(text: str) -> x509.UniformResourceIdentifier | x509.RFC822Name | x509.DNSName:
    """``uri:spiffe://...``, ``email:alice@example.com`` or ``dns:node-1.example.com``; ValueError otherwise."""
    kind, _, value = text.partition(":")
    if kind not in SAN_KINDS or not value:
        raise ValueError(f"--san {text!r}: use uri:VALUE, email:VALUE or dns:VALUE")
    try:
        return SAN_KINDS[kind][0](value)
    except ValueError as exc:
        raise ValueError(f"--san {text!r}: {exc}") from None


def csr_for(key: ec.EllipticCurvePrivateKey, identity: Identity) -> x509.CertificateSigningRequest:
    """The CSR the CA signs: the identity in the subject and, when there are any, in a SAN extension."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(identity.subject)
    if identity.sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(identity.sans)), critical=False)
    return builder.sign(key, hashes.SHA256())


def api_passthrough(identity: Identity) -> dict[str, Any]:
    """IssueCertificate's ApiPassthrough for the identity: the subject as custom attributes (the only way to give
    UID, and AWS Private CA refuses standard and custom attributes together), in the subject's order."""
    attributes = [
        {"ObjectIdentifier": attribute.oid.dotted_string, "Value": str(attribute.value)}
        for attribute in identity.subject
    ]
    passthrough: dict[str, Any] = {"Subject": {"CustomAttributes": attributes}}
    if identity.sans:
        fields = dict(SAN_KINDS.values())
        names = [{fields[type(san)]: str(san.value)} for san in identity.sans]
        passthrough["Extensions"] = {"SubjectAlternativeNames": names}
    return passthrough


def identity_problems(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, identity: Identity) -> list[str]:
    """Where the certificate the CA returned differs from the key and identity asked for (a template that drops
    the passthrough, a CA that rewrites the subject)."""
    problems = []
    if cert.public_key() != key.public_key():
        problems.append("it certifies another key")
    if cert.subject != identity.subject:
        problems.append(f"its subject is {cert.subject.rfc4514_string()}, not {identity.subject.rfc4514_string()}")
    try:
        sans = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = set()
    if sans != set(identity.sans):
        problems.append(f"its subject alternative names are {sorted(map(str, sans))}")
    return problems


def colon_serial(serial: int) -> str:
    """A serial as RevokeCertificate takes it and `openssl x509 -text` prints it: colon-separated hex bytes."""
    raw = f"{serial:x}"
    raw = raw.zfill(len(raw) + len(raw) % 2)
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))


@dataclass
class PrivateCaDirectory:
    """A directory of operators' keys and certificates issued by one AWS Private CA."""

    root: Path

    @staticmethod
    def is_one(root: Path) -> bool:
        """Whether ``root`` was made by ``pki init --private-ca``."""
        return (root / CONFIG).is_file()

    @property
    def config(self) -> dict[str, str]:
        """The CA's ARN and region."""
        return dict(read_state(self.root / CONFIG, CONFIG_SHAPE))

    def init(self, session: Any, ca_arn: str) -> Path:
        """Check the CA is ACTIVE, record it, and write its certificate chain as ``truststore.pem`` (the bundle to
        give `publish-truststore`)."""
        pca = session.client("acm-pca")
        try:
            described = pca.describe_certificate_authority(CertificateAuthorityArn=ca_arn)["CertificateAuthority"]
            status = described.get("Status")
            if status != "ACTIVE":
                raise AwsError(f"{ca_arn} is {status}: install its CA certificate (or activate it) first")
            chain = pca.get_certificate_authority_certificate(CertificateAuthorityArn=ca_arn)
        except _client_errors() as exc:
            raise AwsError(f"{ca_arn}: {one_line(exc)}") from None
        key_algorithm = described.get("CertificateAuthorityConfiguration", {}).get("KeyAlgorithm", "RSA_2048")
        self.root.mkdir(parents=True, exist_ok=True)
        truststore = self.root / "truststore.pem"
        pems = _bundle(chain["Certificate"], chain.get("CertificateChain")).encode("ascii", errors="replace")
        truststore.write_bytes(public_bundle(pems, f"{ca_arn}'s certificate chain"))
        config = {"ca_arn": ca_arn, "region": session.region_name, "key_algorithm": key_algorithm}
        (self.root / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        self._save([])
        return truststore

    def issue(self, session: Any, label: str, identity: Identity, days: int, *, force: bool = False) -> Path:
        """Make a key and CSR here, have the CA sign the CSR, check what came back, record it; the certificate's
        PEM (with the CA's chain after it) beside its key."""
        target = self.root / "clients" / f"{label}.pem"
        if target.exists() and not force:
            raise AwsError(f"{target} exists: pass --force to replace it (revoke the old one with `pki revoke`)")
        if days < 1:
            raise AwsError(f"--days {days}: give at least 1")
        config = self.config
        key = ec.generate_private_key(ec.SECP256R1())
        csr = csr_for(key, identity).public_bytes(serialization.Encoding.PEM)
        pca = session.client("acm-pca")
        ca_arn = config["ca_arn"]
        try:
            issued = pca.issue_certificate(
                CertificateAuthorityArn=ca_arn,
                Csr=csr,
                SigningAlgorithm=_signing(config.get("key_algorithm", "RSA_2048")),
                TemplateArn=CLIENT_TEMPLATE,
                ApiPassthrough=api_passthrough(identity),
                Validity={"Value": days, "Type": "DAYS"},
                IdempotencyToken=uuid.uuid4().hex[:36],
            )
            arn = issued["CertificateArn"]
            pca.get_waiter("certificate_issued").wait(
                CertificateAuthorityArn=ca_arn, CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            got = pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)
        except _client_errors() as exc:
            raise AwsError(f"{ca_arn}: {one_line(exc)}") from None
        cert = x509.load_pem_x509_certificate(got["Certificate"].encode())
        problems = identity_problems(cert, key, identity)
        if problems:
            raise AwsError(f"the CA issued {arn} but {'; '.join(problems)}: use the template {CLIENT_TEMPLATE}")
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target.with_suffix(".key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        target.write_text(_bundle(got["Certificate"], got.get("CertificateChain")))
        row = LedgerRow(
            serial=colon_serial(cert.serial_number),
            subject=cert.subject.rfc4514_string(),
            sans=[str(san.value) for san in identity.sans],
            ca=ca_arn,
            certificate_arn=arn,
            file=str(target),
            not_after=cert.not_valid_after_utc.isoformat(),
        )
        self._save([*self.listing(), row])
        return target

    def revoke(self, session: Any, target: str, reason: str) -> tuple[str, bool]:
        """Revoke a certificate (its PEM file or serial) through the CA; whether it was newly revoked."""
        if reason not in REVOCATION_REASONS:
            raise AwsError(f"--reason {reason}: AWS Private CA takes {', '.join(REVOCATION_REASONS)}")
        serial = _serial_of(target)
        ca_arn = self.config["ca_arn"]
        try:
            session.client("acm-pca").revoke_certificate(
                CertificateAuthorityArn=ca_arn, CertificateSerial=serial, RevocationReason=REVOCATION_REASONS[reason]
            )
            newly = True
        except _client_errors() as exc:
            if error_code(exc) != "RequestAlreadyProcessedException":
                raise AwsError(f"{ca_arn}: {one_line(exc)}") from None
            newly = False
        now = dt.datetime.now(dt.UTC).isoformat()
        rows = [
            LedgerRow(**(asdict(row) | {"revoked_at": now, "reason": reason}))
            if row.serial == serial and row.revoked_at is None
            else row
            for row in self.listing()
        ]
        self._save(rows)
        return serial, newly

    def listing(self) -> list[LedgerRow]:
        """What this directory had issued, in order."""
        path = self.root / LEDGER
        return [LedgerRow(**row) for row in read_state(path, LEDGER_SHAPE)] if path.is_file() else []

    def _save(self, rows: Sequence[LedgerRow]) -> None:
        (self.root / LEDGER).write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")


def _serial_of(target: str) -> str:
    """The colon serial of a PEM file, or of a hex serial given as text (with or without colons)."""
    path = Path(target)
    if path.is_file():
        try:
            return colon_serial(x509.load_pem_x509_certificate(path.read_bytes()).serial_number)
        except PARSE_ERRORS as exc:
            raise AwsError(f"{target}: not a PEM certificate ({exc})") from None
    try:
        return colon_serial(int(target.replace(":", ""), 16))
    except ValueError:
        raise AwsError(f"{target}: neither a certificate file nor a hex serial") from None


def _bundle(*pems: str | None) -> str:
    """PEM blocks one after the other."""
    return "\n".join(pem.strip() for pem in pems if pem) + "\n"


def _signing(key_algorithm: str) -> str:
    return next((value for prefix, value in SIGNING.items() if key_algorithm.startswith(prefix)), "SHA256WITHRSA")


def _client_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    return (BotoCoreError, ClientError, WaiterError)
