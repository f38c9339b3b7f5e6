"""RFC 5280 7.1 name matching and name constraints, per name form."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509

from nodegate_authorizer.name_constraints import Constraints, NameConstraintError, check_names, matches
from nodegate_authorizer.names import canonical, same_name, within


def N(text: str) -> x509.Name:
    """A Name from 'CN=x,O=y' keeping every space of the values (RFC 4514 parsing would strip them)."""
    oid = x509.NameOID
    oids = {
        "CN": oid.COMMON_NAME,
        "O": oid.ORGANIZATION_NAME,
        "OU": oid.ORGANIZATIONAL_UNIT_NAME,
        "C": oid.COUNTRY_NAME,
        "UID": oid.USER_ID,
    }
    rdns = []
    for rdn in reversed(text.split(",")):
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(oids[k], v) for k, v in (part.split("=", 1) for part in rdn.split("+"))]
            )
        )
    return x509.Name(rdns)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("CN=Good CA,O=Test", "CN=good  ca,O=TEST", True),
        ("CN= Good CA ,O=Test", "CN=Good CA,O=Test", True),
        ("CN=Good CA,O=Test", "O=Test,CN=Good CA", False),  # RDN order matters
        ("CN=Good CA,O=Test", "CN=Good CB,O=Test", False),
        ("CN=A+UID=x,O=T", "UID=X+CN=a,O=T", True),  # attributes of one RDN are a set
        ("CN=Stra\u00dfe", "CN=STRASSE", True),  # case folding, not lower()
    ],
)
def test_same_name(a: str, b: str, same: bool) -> None:
    assert same_name(N(a), N(b)) is same
    assert (canonical(N(a)) == canonical(N(b))) is same


def test_within() -> None:
    assert within(N("CN=x,OU=ops,O=Test,C=US"), N("OU=OPS,O=test,C=us"))
    assert not within(N("CN=x,OU=dev,O=Test,C=US"), N("OU=ops,O=Test,C=US"))


@pytest.mark.parametrize(
    ("name", "subtree", "inside"),
    [
        (x509.DNSName("a.example.com"), x509.DNSName("example.com"), True),
        (x509.DNSName("example.com"), x509.DNSName("example.com"), True),
        (x509.DNSName("badexample.com"), x509.DNSName("example.com"), False),
        (x509.RFC822Name("ops@example.com"), x509.RFC822Name("example.com"), True),
        (x509.RFC822Name("ops@mail.example.com"), x509.RFC822Name("example.com"), False),
        (x509.RFC822Name("ops@mail.example.com"), x509.RFC822Name(".example.com"), True),
        (x509.RFC822Name("ops@example.com"), x509.RFC822Name("ops@EXAMPLE.com"), True),
        (x509.RFC822Name("dev@example.com"), x509.RFC822Name("ops@example.com"), False),
        (
            x509.UniformResourceIdentifier("https://host.example.com/x"),
            x509.UniformResourceIdentifier(".example.com"),
            True,
        ),
        (x509.UniformResourceIdentifier("https://example.com/x"), x509.UniformResourceIdentifier("example.com"), True),
        (x509.UniformResourceIdentifier("urn:nohost"), x509.UniformResourceIdentifier("example.com"), False),
        (x509.IPAddress(ipaddress.ip_address("10.1.2.3")), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")), True),
        (x509.IPAddress(ipaddress.ip_address("11.1.2.3")), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")), False),
        (x509.IPAddress(ipaddress.ip_address("::1")), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")), False),
        (x509.DirectoryName(N("CN=x,O=Test")), x509.DirectoryName(N("O=test")), True),
        (x509.DNSName("example.com"), x509.RFC822Name("example.com"), False),
    ],
)
def test_matches(name: x509.GeneralName, subtree: x509.GeneralName, inside: bool) -> None:
    assert matches(name, subtree) is inside


def test_permitted_and_excluded_from_every_ca() -> None:
    upper = Constraints(permitted=(x509.DNSName("example.com"),), excluded=())
    lower = Constraints(permitted=None, excluded=(x509.DNSName("bad.example.com"),))
    check_names([x509.DNSName("ok.example.com"), x509.RFC822Name("a@b.c")], [upper, lower])
    with pytest.raises(NameConstraintError, match="excluded"):
        check_names([x509.DNSName("x.bad.example.com")], [upper, lower])
    with pytest.raises(NameConstraintError, match="outside"):
        check_names([x509.DNSName("example.org")], [upper, lower])


def test_a_constrained_name_form_we_cannot_match_fails() -> None:
    other = x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    check_names([other], [Constraints(permitted=(x509.DNSName("example.com"),), excluded=())])  # other type
    with pytest.raises(NameConstraintError, match="cannot be checked"):
        check_names([other], [Constraints(permitted=None, excluded=(other,))])


@pytest.mark.parametrize(
    ("name", "subtree"),
    [
        (x509.RFC822Name("ops@example.com"), x509.DNSName("example.com")),
        (x509.DNSName("example.com"), x509.RFC822Name("example.com")),
        (x509.UniformResourceIdentifier("https://example.com/"), x509.DNSName("example.com")),
        (x509.DNSName("example.com"), x509.UniformResourceIdentifier("example.com")),
        (x509.IPAddress(ipaddress.ip_address("10.0.0.1")), x509.DNSName("example.com")),
        (x509.DNSName("example.com"), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8"))),
        (x509.DirectoryName(N("CN=x,O=Test")), x509.DNSName("example.com")),
        (x509.DNSName("example.com"), x509.DirectoryName(N("O=Test"))),
    ],
)
def test_a_name_never_matches_a_subtree_of_another_form(name: x509.GeneralName, subtree: x509.GeneralName) -> None:
    assert matches(name, subtree) is False


def test_malformed_emails_and_uris_match_nothing() -> None:
    assert not matches(x509.RFC822Name("example.com"), x509.RFC822Name("example.com"))  # no @
    assert not matches(x509.RFC822Name("@example.com"), x509.RFC822Name("example.com"))  # no local part
    assert not matches(x509.UniformResourceIdentifier("http://[::1"), x509.UniformResourceIdentifier("example.com"))
