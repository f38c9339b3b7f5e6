"""Name constraints (RFC 5280 4.2.1.10 and 6.1.3 (b)-(c), 6.1.4 (g)), applied whatever their criticality.

Each CA's constraints are kept as they are and every later name is checked against each of them, which is
the same as intersecting permitted and uniting excluded subtrees, without computing either."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.x509.oid import NameOID

from .certificates import extension
from .names import within

SMTP_UTF8_MAILBOX = x509.ObjectIdentifier("1.3.6.1.5.5.7.8.9")
SUPPORTED = (x509.DirectoryName, x509.DNSName, x509.RFC822Name, x509.UniformResourceIdentifier, x509.IPAddress)


class SubjectEmail(x509.GeneralName):
    """An emailAddress attribute of the subject, which rfc822Name constraints bind (RFC 5280 4.2.1.10), kept
    as written: ``cryptography``'s RFC822Name refuses to hold a non-ASCII or ill-formed address."""

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def value(self) -> str:
        return self._value


class NameConstraintError(ValueError):
    """A name of the certificate lies outside what a CA above it permits."""


class Constraints(NamedTuple):
    """One CA's nameConstraints: ``None`` means that part was absent."""

    permitted: tuple[x509.GeneralName, ...] | None
    excluded: tuple[x509.GeneralName, ...]


def constraints_of(cert: x509.Certificate) -> Constraints | None:
    """The CA's nameConstraints, or None."""
    value = extension(cert, x509.NameConstraints)
    if value is None:
        return None
    permitted = tuple(value.permitted_subtrees) if value.permitted_subtrees is not None else None
    return Constraints(permitted, tuple(value.excluded_subtrees or ()))


def names_of(cert: x509.Certificate) -> list[x509.GeneralName]:
    """Every name the constraints apply to: the subject, its emailAddress attributes and the subjectAltName."""
    names: list[x509.GeneralName] = []
    if cert.subject.rdns:
        names.append(x509.DirectoryName(cert.subject))
    names += [SubjectEmail(str(a.value)) for a in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    alt = extension(cert, x509.SubjectAlternativeName)
    if alt is not None:
        names += list(alt)
    return names


LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
USERINFO = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*")
Domain = tuple[str, bool]
"""A host-name constraint: the name, and whether only names below it match (a leading period)."""


def host_name(value: str) -> str | None:
    """``value`` lower-cased when it is a host name in preferred name syntax (RFC 1034 3.5 as RFC 1123 2.1
    relaxes it: LDH labels of 1-63 octets, 253 in all, the last not all digits; IDNA A-labels are LDH), else
    None. No empty label, so no leading, trailing or double period, and no wildcard."""
    host = value.lower()
    labels = host.split(".")
    if not host.isascii() or len(host) > 253 or labels[-1].isdigit():
        return None
    return host if all(LABEL.fullmatch(label) for label in labels) else None


def mailbox(value: str) -> tuple[str, str] | None:
    """(local part, lower-case domain) of an RFC 5321 Mailbox with a dot-atom local part and a host-name domain
    (RFC 5280 4.2.1.6), else None: quoted local parts, address literals and non-ASCII mailboxes are refused."""
    local, at, domain = value.partition("@")
    host = host_name(domain) if at else None
    if host is None or len(local) > 64 or not all(ATOM.fullmatch(atom) for atom in local.split(".")):
        return None
    return local, host


def uri_host(value: str) -> str | None:
    """The host of a URI with an authority whose host is a domain name (RFC 5280 4.2.1.10, RFC 3986 3.2), else
    None: no authority, an IP literal, a userinfo or port out of syntax, or non-ASCII characters."""
    scheme, colon, rest = value.partition(":")
    if not colon or not SCHEME.fullmatch(scheme) or not rest.startswith("//") or not value.isascii():
        return None
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    userinfo, at, hostport = authority.rpartition("@")
    host, colon, port = hostport.partition(":")
    if (at and not USERINFO.fullmatch(userinfo)) or (colon and not port.isdigit() and port != ""):
        return None
    return host_name(host)


def _domain(value: str) -> Domain | None:
    """An rfc822Name or URI host constraint: ``example.com`` (that host) or ``.example.com`` (hosts below it)."""
    below = value.startswith(".")
    host = host_name(value[1:] if below else value)
    return (host, below) if host is not None else None


def _in_domain(host: str, domain: Domain) -> bool:
    """An rfc822Name or URI host against a host constraint: that host exactly, or any host below ``.domain``."""
    base, only_below = domain
    return host.endswith("." + base) if only_below else host == base


def _parse_name(name: x509.GeneralName) -> object | None:
    """The comparable form of a certificate's name, or None when it is malformed."""
    if isinstance(name, x509.DNSName):
        return host_name(name.value)
    if isinstance(name, x509.RFC822Name | SubjectEmail):
        return mailbox(name.value)
    if isinstance(name, x509.UniformResourceIdentifier):
        return uri_host(name.value)
    if isinstance(name, x509.IPAddress):
        return name.value if isinstance(name.value, ipaddress.IPv4Address | ipaddress.IPv6Address) else None
    return name.value if isinstance(name, x509.DirectoryName) else None


def _parse_subtree(subtree: x509.GeneralName) -> object | None:
    """The comparable form of a constraint's base name, or None when it is malformed."""
    if isinstance(subtree, x509.DNSName):  # 4.2.1.10: a host name; no leading period, no empty "every name"
        return host_name(subtree.value)
    if isinstance(subtree, x509.RFC822Name):
        return mailbox(subtree.value) if "@" in subtree.value else _domain(subtree.value)
    if isinstance(subtree, x509.UniformResourceIdentifier):
        return _domain(subtree.value)
    if isinstance(subtree, x509.IPAddress):
        return subtree.value if isinstance(subtree.value, ipaddress.IPv4Network | ipaddress.IPv6Network) else None
    return subtree.value if isinstance(subtree, x509.DirectoryName) else None


def _match(kind: type[x509.GeneralName], name: Any, base: Any) -> bool:
    if kind is x509.DirectoryName:
        return within(name, base)
    if kind is x509.DNSName:  # the name itself or any name made by adding labels on the left
        return bool(name == base or name.endswith("." + base))
    if kind is x509.RFC822Name:
        return bool(name == base) if isinstance(base[1], str) else _in_domain(name[1], base)
    if kind is x509.UniformResourceIdentifier:
        return _in_domain(name, base)
    return bool(name.version == base.version and name in base)


def matches(name: x509.GeneralName, subtree: x509.GeneralName) -> bool:
    """True when ``name`` lies within ``subtree`` (both of the same supported form, both well formed)."""
    kind = _forms(name)[-1]
    if kind is not type(subtree) or not isinstance(subtree, SUPPORTED):
        return False
    value, base = _parse_name(name), _parse_subtree(subtree)
    return value is not None and base is not None and _match(kind, value, base)


def _forms(name: x509.GeneralName) -> tuple[type[x509.GeneralName], ...]:
    """The constraint forms that bind ``name``, the one it is read as last: its own; rfc822Name for a subject
    emailAddress; otherName and rfc822Name for an SmtpUTF8Mailbox (RFC 8398 6), which is never read here."""
    if isinstance(name, SubjectEmail):
        return (x509.RFC822Name,)
    if isinstance(name, x509.OtherName) and name.type_id == SMTP_UTF8_MAILBOX:
        return (x509.OtherName, x509.RFC822Name)
    return (type(name),)


def check_names(names: Iterable[x509.GeneralName], constraints: Iterable[Constraints]) -> None:
    """Raise NameConstraintError unless every name satisfies every CA's constraints.

    Under a constraint of its form, a name fails when this module cannot match it (otherName, an SmtpUTF8Mailbox
    under rfc822Name, ...), when it is malformed, or when any subtree of that form, permitted or excluded, is
    malformed: a name that cannot be read is never taken to be inside, or outside, a subtree, and a CA whose
    constraints cannot all be read does not constrain by the part that can (whatever order they come in)."""
    names = list(names)
    for constraint in constraints:
        for name in names:
            for kind in _forms(name):
                _check(name, kind, constraint)


def _check(name: x509.GeneralName, kind: type[x509.GeneralName], constraint: Constraints) -> None:
    excluded = [s for s in constraint.excluded if type(s) is kind]
    permitted = [s for s in constraint.permitted or () if type(s) is kind]
    if not excluded and not permitted:
        return
    if not isinstance(name, (*SUPPORTED, SubjectEmail)):
        raise NameConstraintError(f"name constraints on {kind.__name__} names cannot be checked for {_show(name)}")
    if _parse_name(name) is None:
        raise NameConstraintError(f"{_show(name)} is malformed, and its form is constrained")
    if any(_parse_subtree(subtree) is None for subtree in (*excluded, *permitted)):
        raise NameConstraintError(f"a {kind.__name__} name constraint of the issuing CAs is malformed")
    if any(matches(name, subtree) for subtree in excluded):
        raise NameConstraintError(f"{_show(name)} is in an excluded subtree")
    if permitted and not any(matches(name, subtree) for subtree in permitted):
        raise NameConstraintError(f"{_show(name)} is outside the permitted subtrees")


def _show(name: x509.GeneralName) -> str:
    value = name.value.rfc4514_string() if isinstance(name, x509.DirectoryName) else str(name.value)
    return f"{type(name).__name__} {value[:200]!r}"
