"""Name constraints (RFC 5280 4.2.1.10 and 6.1.3 (b)-(c), 6.1.4 (g)), applied whatever their criticality.

Each CA's constraints are kept as they are and every later name is checked against each of them, which is
the same as intersecting permitted and uniting excluded subtrees, without computing either."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID

from .certificates import extension
from .names import within

SUPPORTED = (x509.DirectoryName, x509.DNSName, x509.RFC822Name, x509.UniformResourceIdentifier, x509.IPAddress)


class NameConstraintError(ValueError):
    """A name of the certificate lies outside what a CA above it permits."""


@dataclass(frozen=True)
class Constraints:
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
    names += [
        x509.RFC822Name(str(attribute.value))
        for attribute in cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
    ]
    alt = extension(cert, x509.SubjectAlternativeName)
    if alt is not None:
        names += list(alt)
    return names


def _host_match(host: str, constraint: str) -> bool:
    host, constraint = host.lower().rstrip("."), constraint.lower().rstrip(".")
    if constraint.startswith("."):
        return host.endswith(constraint)
    return host == constraint


def _dns_match(name: str, constraint: str) -> bool:
    name, constraint = name.lower().rstrip("."), constraint.lower().rstrip(".").lstrip(".")
    return not constraint or name == constraint or name.endswith("." + constraint)


def _email_match(address: str, constraint: str) -> bool:
    local, at, host = address.rpartition("@")
    if not at or not local:
        return False
    if "@" in constraint:
        c_local, _, c_host = constraint.rpartition("@")
        return local == c_local and host.lower() == c_host.lower()
    return _host_match(host, constraint)


def _uri_match(uri: str, constraint: str) -> bool:
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    return bool(host) and _host_match(host, constraint)  # type: ignore[arg-type]


def _ip_match(address: object, network: object) -> bool:
    return (
        isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)
        and isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
        and address.version == network.version
        and address in network
    )


def matches(name: x509.GeneralName, subtree: x509.GeneralName) -> bool:
    """True when ``name`` lies within ``subtree`` (both of the same supported type)."""
    if isinstance(name, x509.DirectoryName) and isinstance(subtree, x509.DirectoryName):
        return within(name.value, subtree.value)
    if isinstance(name, x509.DNSName) and isinstance(subtree, x509.DNSName):
        return _dns_match(name.value, subtree.value)
    if isinstance(name, x509.RFC822Name) and isinstance(subtree, x509.RFC822Name):
        return _email_match(name.value, subtree.value)
    if isinstance(name, x509.UniformResourceIdentifier) and isinstance(subtree, x509.UniformResourceIdentifier):
        return _uri_match(name.value, subtree.value)
    if isinstance(name, x509.IPAddress) and isinstance(subtree, x509.IPAddress):
        return _ip_match(name.value, subtree.value)
    return False


def check_names(names: Iterable[x509.GeneralName], constraints: Iterable[Constraints]) -> None:
    """Raise NameConstraintError unless every name satisfies every CA's constraints.

    A name of a type the constraints name but this module cannot match (otherName, x400, ...) fails."""
    for constraint in constraints:
        for name in names:
            kind = type(name)
            excluded = [s for s in constraint.excluded if type(s) is kind]
            permitted = [s for s in constraint.permitted or () if type(s) is kind]
            if (excluded or permitted) and not isinstance(name, SUPPORTED):
                raise NameConstraintError(f"name constraints on {kind.__name__} names cannot be checked")
            if any(matches(name, subtree) for subtree in excluded):
                raise NameConstraintError(f"{_show(name)} is in an excluded subtree")
            if permitted and not any(matches(name, subtree) for subtree in permitted):
                raise NameConstraintError(f"{_show(name)} is outside the permitted subtrees")


def _show(name: x509.GeneralName) -> str:
    value = name.value.rfc4514_string() if isinstance(name, x509.DirectoryName) else str(name.value)
    return f"{type(name).__name__} {value[:200]!r}"
