"""Identity: exactly one user id and one node id from the certificate subject, under a strict pattern (the
default rule; ``identity_rules`` reads SANs and chooses a rule per issuing CA)."""

from __future__ import annotations

import re
from typing import NamedTuple

from cryptography import x509
from cryptography.x509.oid import NameOID

from .reasons import Denied, Reason

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Every id must also fit this, whatever ID_PATTERN says: no spaces, commas, colons or control characters."""

ATTRIBUTE_OIDS = {
    "CN": NameOID.COMMON_NAME,
    "UID": NameOID.USER_ID,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "L": NameOID.LOCALITY_NAME,
}


class IdentityRule(NamedTuple):
    """Which subject attributes hold the ids, and the pattern both ids must fully match."""

    user_attribute: str
    node_attribute: str
    pattern: re.Pattern[str]


DEFAULT_RULE = "default"


class Identity(NamedTuple):
    """Who is calling (user) and which node the certificate is bound to."""

    user_id: str
    node_id: str
    subject: str
    rule: str = DEFAULT_RULE
    """The name of the identity rule that matched (``default``: the subject attributes of the settings)."""


def valid_id(value: str, rule: IdentityRule) -> bool:
    """True when ``value`` is a safe id that fully matches the configured pattern."""
    return bool(SAFE_ID.fullmatch(value)) and bool(rule.pattern.fullmatch(value))


def _oid(name: str) -> x509.ObjectIdentifier:
    return ATTRIBUTE_OIDS.get(name) or x509.ObjectIdentifier(name)


def subject_id(subject: x509.Name, name: str, rule: IdentityRule, role: str) -> str:
    """The one value of attribute ``name``; raise Denied(BAD_IDENTITY) unless it is there once and well-formed."""
    values = subject.get_attributes_for_oid(_oid(name))
    if len(values) != 1:
        raise Denied(Reason.BAD_IDENTITY, f"subject has {len(values)} {name} attributes for the {role} id (need 1)")
    value = values[0].value
    if not isinstance(value, str) or not valid_id(value, rule):
        raise Denied(Reason.BAD_IDENTITY, f"{role} id {value!r} in {name} does not match the id pattern")
    return value


def extract_identity(cert: x509.Certificate, rule: IdentityRule) -> Identity:
    """Return the user and node ids; raise Denied(BAD_IDENTITY) unless each is present once and well-formed."""
    try:
        subject = cert.subject.rfc4514_string()
    except ValueError as exc:
        raise Denied(Reason.BAD_IDENTITY, f"subject cannot be rendered: {exc}") from None
    user_id = subject_id(cert.subject, rule.user_attribute, rule, "user")
    node_id = subject_id(cert.subject, rule.node_attribute, rule, "node")
    return Identity(user_id=user_id, node_id=node_id, subject=subject)
