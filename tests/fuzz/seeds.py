"""Regression seeds: the smallest input of each crash class the fuzzer found, built by code from the fixture PKI
(the keys and URLs change every run, so stored bytes would not stay signed).

Each seed names its kind, the part it changes, whether it is signed again, and the finding it reproduces."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from .der import (
    BIT_STRING,
    CONTEXT,
    GENERALIZED_TIME,
    INTEGER,
    OID,
    SEQUENCE,
    UNIVERSAL,
    UTF8_STRING,
    Node,
    encode,
    oid_bytes,
    parse,
)
from .mutate import ALGORITHMS, ATTRIBUTES, CURVES, pss_parameters
from .targets import Mutant, Pki, Target, _basic, _delegate, resign

Edit = Callable[[Node], None]


def holder(tree: Node, dotted: str) -> tuple[Node, Node]:
    """The first constructed node whose first child is OBJECT IDENTIFIER ``dotted``, and its parent."""
    wanted = oid_bytes(dotted)
    for node, parent in tree.walk():
        first = (node.children or [None])[0]
        if first is not None and first.is_universal(OID) and first.content == wanted and parent is not None:
            return node, parent
    raise LookupError(dotted)


def duplicate(dotted: str) -> Edit:
    """Repeat the extension (or attribute) named ``dotted`` next to itself."""

    def edit(tree: Node) -> None:
        node, parent = holder(tree, dotted)
        assert parent.children is not None
        parent.children.insert(parent.children.index(node), copy.deepcopy(node))

    return edit


def set_value(dotted: str, value: Node) -> Edit:
    """Replace the value that follows OBJECT IDENTIFIER ``dotted`` (a curve, an attribute's string)."""

    def edit(tree: Node) -> None:
        node, _ = holder(tree, dotted)
        assert node.children is not None
        node.children[1] = value

    return edit


def tbs_field(index: int, value: Node) -> Edit:
    """Replace field ``index`` of the TBS (certificate or CRL)."""

    def edit(tree: Node) -> None:
        tree.children[0].children[index] = value  # type: ignore[index]

    return edit


def validity(which: int, value: Node) -> Edit:
    """Replace notBefore (0) or notAfter (1) of a certificate."""

    def edit(tree: Node) -> None:
        tree.children[0].children[4].children[which] = value  # type: ignore[index]

    return edit


def spki_bits(tree: Node) -> None:
    """An EC point that is not on the curve (the public key does not load)."""
    spki = tree.children[0].children[6]  # type: ignore[index]
    spki.children[1].content = b"\x00\x04" + b"\x01" * 64  # type: ignore[index]


def set_extension(dotted: str, new: str, value: Node) -> Edit:
    """Turn extension ``dotted`` into extension ``new`` with ``value``."""

    def edit(tree: Node) -> None:
        node, _ = holder(tree, dotted)
        assert node.children is not None
        node.children[0].content = oid_bytes(new)
        node.children[-1].inner, node.children[-1].content = value, b""

    return edit


def bit_string_cn(field: int) -> Edit:
    """The CN of TBS field ``field`` (issuer or subject name) as a BIT STRING (X.520 allows that type only for
    x500UniqueIdentifier)."""

    def edit(tree: Node) -> None:
        node, _ = holder(tree.children[0].children[field], ATTRIBUTES["CN"])  # type: ignore[index]
        assert node.children is not None
        node.children[1] = Node(UNIVERSAL, False, BIT_STRING, b"\x00abc")

    return edit


def ocsp_next_update(value: Node) -> Edit:
    """SingleResponse nextUpdate ([0] EXPLICIT GeneralizedTime) of the first answer."""

    def edit(basic: Node) -> None:
        tbs = basic.children[0]  # type: ignore[index]
        singles = next(c for c in tbs.children or () if c.is_universal(SEQUENCE) and c.children)
        singles.children[0].children[3].children[0] = value  # type: ignore[index]

    return edit


def outer_pss_without_parameters(tree: Node) -> None:
    """signatureAlgorithm RSASSA-PSS with its parameters left out (RFC 4055 3.1 requires RSASSA-PSS-params)."""
    tree.children[1].children = [Node(UNIVERSAL, False, OID, oid_bytes(ALGORITHMS["rsaPSS"]))]  # type: ignore[index]


def outer_pss(tree: Node) -> None:
    """signatureAlgorithm RSASSA-PSS (SHA-256, MGF1 SHA-256, salt 32) on an ECDSA signature, TBS untouched."""
    tree.children[1] = Node(  # type: ignore[index]
        UNIVERSAL, True, SEQUENCE, children=[Node(UNIVERSAL, False, OID, oid_bytes(ALGORITHMS["rsaPSS"])), PSS]
    )


YEAR_ZERO = Node(UNIVERSAL, False, GENERALIZED_TIME, b"00000101000000Z")
V5 = Node(CONTEXT, True, 0, children=[Node(UNIVERSAL, False, INTEGER, b"\x05")])
V34 = Node(CONTEXT, True, 0, children=[Node(UNIVERSAL, False, INTEGER, b"\x22")])
YEAR_9999 = Node(UNIVERSAL, False, GENERALIZED_TIME, b"99991231235959Z")
TLS_FEATURE_99 = Node(UNIVERSAL, True, SEQUENCE, children=[Node(UNIVERSAL, False, INTEGER, b"\x63")])
SKI, TLS_FEATURE = "2.5.29.14", "1.3.6.1.5.5.7.1.24"
PSS = pss_parameters("sha256", "sha256", b"\x20")
SM2 = Node(UNIVERSAL, False, OID, oid_bytes(CURVES["sm2"]))


@dataclass(frozen=True)
class Seed:
    """One reproducer: kind, changed part, signed again or not, the edit, and the open finding (or None)."""

    name: str
    kind: str
    part: str
    resigned: bool
    edit: Edit
    finding: str | None

    def build(self, pki: Pki) -> Mutant:
        target = Target(pki, self.kind)
        original = target.original(self.part)
        tree = parse(original)
        signed = {"ocsp": _basic, "delegate": _delegate}.get(self.part, lambda t: t)(tree)
        self.edit(signed)
        if self.resigned:
            resign(signed, target.signer(self.part))
        return Mutant(self.kind, 0, self.resigned, [self.name], encode(tree), original, self.part)


def extra_single_sha3(basic: Node) -> None:
    """A second SingleResponse, first in the list, whose CertID hashes with SHA3-256 (RFC 6960 4.2.1 lets a
    response carry answers for other certificates)."""
    tbs = basic.children[0]  # type: ignore[index]
    singles = next(c for c in tbs.children or () if c.is_universal(SEQUENCE) and c.children)
    assert singles.children is not None
    extra = copy.deepcopy(singles.children[0])
    extra.children[0].children[0].children[0].content = oid_bytes(ALGORITHMS["sha3-256"])  # type: ignore[index]
    singles.children.insert(0, extra)


def revocation_time_year_zero(basic: Node) -> None:
    """RevokedInfo.revocationTime in year 0 (GeneralizedTime allows it; datetime does not)."""
    tbs = basic.children[0]  # type: ignore[index]
    singles = next(c for c in tbs.children or () if c.is_universal(SEQUENCE) and c.children)
    status = singles.children[0].children[1]  # type: ignore[index]
    status.children[0] = copy.deepcopy(YEAR_ZERO)  # type: ignore[index]


def subject_duplicate_attribute(tree: Node) -> None:
    """Two identical CN values in one RDN (cryptography refuses to build that Name when it is read)."""
    node, parent = holder(tree.children[0].children[5], ATTRIBUTES["CN"])  # type: ignore[index]
    assert parent.children is not None
    parent.children.append(copy.deepcopy(node))


def issuer_duplicate_attribute(tree: Node) -> None:
    """The same in the issuer name."""
    node, parent = holder(tree.children[0].children[3], ATTRIBUTES["CN"])  # type: ignore[index]
    assert parent.children is not None
    parent.children.append(copy.deepcopy(node))


def drop_version(tree: Node) -> None:
    """Leave out the [0] version field: the certificate reads as v1, its extensions stay."""
    tree.children[0].children.pop(0)  # type: ignore[index, union-attr]


def tbs_signature_sha1(tree: Node) -> None:
    """The TBS signature field says ecdsa-with-SHA1 while the certificate is signed (and says) ecdsa-with-SHA256."""
    tree.children[0].children[2].children[0].content = oid_bytes(ALGORITHMS["ecdsa-sha1"])  # type: ignore[index]


SEEDS = [
    Seed("intermediate-v1-with-extensions", "truststore", "intermediate", True, drop_version, None),
    Seed("leaf-v1-with-extensions", "leaf", "leaf", True, drop_version, None),
    Seed("leaf-tbs-signature-sha1", "leaf", "leaf", True, tbs_signature_sha1, None),
    Seed("intermediate-ecdsa-signature-called-pss", "truststore", "intermediate", False, outer_pss, None),
    Seed("leaf-ecdsa-signature-called-pss", "leaf", "leaf", False, outer_pss, None),
    Seed("delegate-version-34", "ocsp-delegate", "delegate", True, tbs_field(0, V34), None),
    Seed("crl-duplicate-crl-number", "crl-store", "crl", True, duplicate("2.5.29.20"), None),
    Seed("crl-duplicate-entry-reason", "crl-fetched", "crl", True, duplicate("2.5.29.21"), None),
    Seed(
        "crl-version-5",
        "crl-fetched",
        "crl",
        False,
        tbs_field(0, Node(UNIVERSAL, False, INTEGER, b"\x05")),
        None,
    ),
    Seed("crl-next-update-year-0", "crl-store", "crl", True, tbs_field(4, YEAR_ZERO), None),
    Seed("crl-next-update-9999", "crl-store", "crl", True, tbs_field(4, YEAR_9999), None),
    Seed("crl-issuer-cn-bit-string", "crl-fetched", "crl", False, bit_string_cn(2), None),
    Seed("ocsp-next-update-9999", "ocsp", "ocsp", True, ocsp_next_update(YEAR_9999), None),
    Seed(
        "delegate-tls-feature-99",
        "ocsp-delegate",
        "delegate",
        False,
        set_extension(SKI, TLS_FEATURE, TLS_FEATURE_99),
        None,
    ),
    Seed("intermediate-subject-cn-bit-string", "truststore", "intermediate", True, bit_string_cn(5), None),
    Seed("leaf-tls-feature-99", "leaf", "leaf", True, set_extension(SKI, TLS_FEATURE, TLS_FEATURE_99), None),
    Seed("leaf-issuer-cn-bit-string", "leaf", "leaf", False, bit_string_cn(3), None),
    Seed("leaf-pss-without-parameters", "leaf", "leaf", False, outer_pss_without_parameters, None),
    Seed("ocsp-extra-single-sha3-256", "ocsp", "ocsp", True, extra_single_sha3, None),
    Seed("ocsp-revocation-time-year-0", "ocsp", "ocsp", True, revocation_time_year_zero, None),
    Seed("ocsp-duplicate-nonce", "ocsp", "ocsp", True, duplicate("1.3.6.1.5.5.7.48.1.2"), None),
    Seed("ocsp-duplicate-single-reason", "ocsp", "ocsp", True, duplicate("2.5.29.21"), None),
    Seed("delegate-duplicate-eku", "ocsp-delegate", "delegate", False, duplicate("2.5.29.37"), None),
    Seed("delegate-duplicate-eku-resigned", "ocsp-delegate", "delegate", True, duplicate("2.5.29.37"), None),
    Seed("delegate-subject-duplicate-cn", "ocsp-delegate", "delegate", True, subject_duplicate_attribute, None),
    Seed("root-on-sm2", "truststore", "root", True, set_value("1.2.840.10045.2.1", SM2), None),
    Seed("root-key-not-on-curve", "truststore", "root", True, spki_bits, None),
    Seed("intermediate-on-sm2", "truststore", "intermediate", True, set_value("1.2.840.10045.2.1", SM2), None),
    Seed("intermediate-version-5", "truststore", "intermediate", True, tbs_field(0, V5), None),
    Seed("root-subject-duplicate-cn", "truststore", "root", True, subject_duplicate_attribute, None),
    Seed(
        "leaf-email-utf8-non-ascii",
        "leaf",
        "leaf",
        True,
        set_value(ATTRIBUTES["emailAddress"], Node(UNIVERSAL, False, UTF8_STRING, "ålice@exämple.com".encode())),
        None,
    ),
    Seed("leaf-on-sm2", "leaf", "leaf", True, set_value("1.2.840.10045.2.1", SM2), None),
    Seed("leaf-key-not-on-curve", "leaf", "leaf", True, spki_bits, None),
    Seed("leaf-not-before-year-0", "leaf", "leaf", True, validity(0, YEAR_ZERO), None),
    Seed("leaf-issuer-duplicate-cn", "leaf", "leaf", False, issuer_duplicate_attribute, None),
    Seed("leaf-subject-duplicate-cn", "leaf", "leaf", True, subject_duplicate_attribute, None),
]
