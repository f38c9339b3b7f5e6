"""Certificates whose identity is in a SAN, for the demo and the sample events: a SPIFFE CA (X.509-SVIDs, as
SPIRE issues them) and an email CA, the certificates they issue (allowed and denied) and the identity rules
(README, Identity rules) that read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from nodegate.pki.authority import CertificateAuthority, Issued, crl_der, name, utcnow
from nodegate_authorizer.identity_rules import key_id

TRUST_DOMAIN = "example.org"
SPIFFE_TEMPLATE = f"spiffe://{TRUST_DOMAIN}/operator/{{user}}/node/{{node}}"
EMAIL_TEMPLATE = "{user}@example.com"


@dataclass(frozen=True)
class Workloads:
    """The two SAN-identity CAs and the certificates the samples use, by file stem."""

    spiffe: CertificateAuthority
    mail: CertificateAuthority
    clients: dict[str, Issued]

    def crls(self, days: int) -> dict[str, bytes]:
        """An empty DER CRL of each CA, valid for ``days``, by file name (for a CRL store)."""
        now = utcnow()
        later = now + dt.timedelta(days=days)
        return {f"{stem}.crl": crl_der(ca.crl({}, this_update=now, next_update=later)) for stem, ca in self.cas()}

    def cas(self) -> tuple[tuple[str, CertificateAuthority], ...]:
        """The two CAs by file stem."""
        return (("spiffe", self.spiffe), ("mail", self.mail))


def spiffe_id(user: str, node: str) -> x509.UniformResourceIdentifier:
    """The URI SAN the ``spire`` rule reads."""
    return x509.UniformResourceIdentifier(SPIFFE_TEMPLATE.format(user=user, node=node))


def workloads(parent: CertificateAuthority, days: int = 365) -> Workloads:
    """Issue the SPIFFE and email CAs under ``parent`` and their sample certificates (no CRL/OCSP URL: these
    CAs publish nothing)."""
    spiffe = parent.sub_ca("nodegate SPIFFE workload CA")
    mail = parent.sub_ca("nodegate email CA")
    spiffe, mail = (CertificateAuthority(ca.cert, ca.key) for ca in (spiffe, mail))
    svid = name(O="SPIRE")
    clients = {
        "spiffe-alice-node-1": spiffe.issue(svid, sans=[spiffe_id("alice", "node-1")], days=days),
        "spiffe-two-ids": spiffe.issue(
            svid, sans=[spiffe_id("alice", "node-1"), spiffe_id("eve", "node-1")], days=days
        ),
        "mail-alice-node-1": mail.issue(name(CN="node-1"), sans=[x509.RFC822Name("alice@example.com")], days=days),
        "mail-other-domain": mail.issue(name(CN="node-1"), sans=[x509.RFC822Name("alice@example.net")], days=days),
    }
    return Workloads(spiffe, mail, clients)


def _issuer(ca: CertificateAuthority) -> dict[str, str]:
    """A rule's issuer: the CA's key identifier, as the authorizer reads it."""
    return {"subjectKeyIdentifier": key_id(ca.cert).hex()}


def identity_rules(found: Workloads, subject_ca: CertificateAuthority | None = None) -> list[dict[str, Any]]:
    """The rules for the two CAs (and the subject rule of ``subject_ca``, whose certificates name UID and CN)."""
    rules: list[dict[str, Any]] = [
        {"name": "spire", "issuer": _issuer(found.spiffe), "uri": SPIFFE_TEMPLATE},
        {
            "name": "mail",
            "issuer": _issuer(found.mail),
            "email": EMAIL_TEMPLATE,
            "node": {"subject": "CN"},
        },
    ]
    if subject_ca is not None:
        rules.append({"name": "operators", "issuer": _issuer(subject_ca), "subject": {"user": "UID", "node": "CN"}})
    return rules
