"""Structure-aware mutation operators over a DER tree (tests/fuzz/der.py).

Each operator changes one chosen node of the scope (the TBS part of a signed object, or the whole object)
and returns a label for the reach histogram, or None when the scope offers it nothing to change. Operators
know the X.509 shapes they aim at: extensions and other SEQUENCE OF lists are duplicated, deleted and
reordered; OBJECT IDENTIFIERs are swapped within their kind (signature and hash algorithms, curves, name
attributes, extensions); strings change type and get non-ASCII text; times, integers and booleans get edge
values; lengths get non-DER forms."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

from .der import (
    BIT_STRING,
    BMP_STRING,
    BOOLEAN,
    CONTEXT,
    GENERALIZED_TIME,
    INTEGER,
    LENGTH_FORMS,
    NULL,
    OCTET_STRING,
    OID,
    SEQUENCE,
    SET,
    STRING_TAGS,
    UNIVERSAL,
    UNIVERSAL_STRING,
    UTC_TIME,
    Node,
    oid_bytes,
)

ALGORITHMS = {
    "md5WithRSA": "1.2.840.113549.1.1.4",
    "sha1WithRSA": "1.2.840.113549.1.1.5",
    "sha256WithRSA": "1.2.840.113549.1.1.11",
    "rsaPSS": "1.2.840.113549.1.1.10",
    "rsaEncryption": "1.2.840.113549.1.1.1",
    "ecdsa-sha1": "1.2.840.10045.4.1",
    "ecdsa-sha256": "1.2.840.10045.4.3.2",
    "ecdsa-sha384": "1.2.840.10045.4.3.3",
    "ecdsa-sha512": "1.2.840.10045.4.3.4",
    "ecdsa-sha3-256": "2.16.840.1.101.3.4.3.10",
    "rsa-sha3-256": "2.16.840.1.101.3.4.3.14",
    "dsa-sha256": "2.16.840.1.101.3.4.3.2",
    "ed25519": "1.3.101.112",
    "ed448": "1.3.101.113",
    "x25519": "1.3.101.110",
    "ecPublicKey": "1.2.840.10045.2.1",
    "dsa": "1.2.840.10040.4.1",
    "md5": "1.2.840.113549.2.5",
    "sha1": "1.3.14.3.2.26",
    "sha224": "2.16.840.1.101.3.4.2.4",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
    "sha3-256": "2.16.840.1.101.3.4.2.8",
    "sha3-512": "2.16.840.1.101.3.4.2.10",
    "sm3": "1.2.156.10197.1.401",
    "mgf1": "1.2.840.113549.1.1.8",
    "unknown": "1.2.3.4.5",
}
CURVES = {
    "P-256": "1.2.840.10045.3.1.7",
    "P-192": "1.2.840.10045.3.1.1",
    "P-224": "1.3.132.0.33",
    "P-384": "1.3.132.0.34",
    "P-521": "1.3.132.0.35",
    "secp256k1": "1.3.132.0.10",
    "brainpoolP256r1": "1.3.36.3.3.2.8.1.1.7",
    "sect163k1": "1.3.132.0.1",
    "sm2": "1.2.156.10197.1.301",
    "unknown": "1.2.3.4",
}
ATTRIBUTES = {
    "CN": "2.5.4.3",
    "UID": "0.9.2342.19200300.100.1.1",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "C": "2.5.4.6",
    "serialNumber": "2.5.4.5",
    "emailAddress": "1.2.840.113549.1.9.1",
    "DC": "0.9.2342.19200300.100.1.25",
    "L": "2.5.4.7",
    "unknown": "1.2.3.4.99",
}
EXTENSIONS = {
    "subjectKeyIdentifier": "2.5.29.14",
    "keyUsage": "2.5.29.15",
    "subjectAltName": "2.5.29.17",
    "issuerAltName": "2.5.29.18",
    "basicConstraints": "2.5.29.19",
    "cRLNumber": "2.5.29.20",
    "reasonCode": "2.5.29.21",
    "invalidityDate": "2.5.29.24",
    "deltaCRLIndicator": "2.5.29.27",
    "issuingDistributionPoint": "2.5.29.28",
    "certificateIssuer": "2.5.29.29",
    "nameConstraints": "2.5.29.30",
    "cRLDistributionPoints": "2.5.29.31",
    "certificatePolicies": "2.5.29.32",
    "policyMappings": "2.5.29.33",
    "authorityKeyIdentifier": "2.5.29.35",
    "policyConstraints": "2.5.29.36",
    "extKeyUsage": "2.5.29.37",
    "freshestCRL": "2.5.29.46",
    "inhibitAnyPolicy": "2.5.29.54",
    "authorityInfoAccess": "1.3.6.1.5.5.7.1.1",
    "ocspNonce": "1.3.6.1.5.5.7.48.1.2",
    "ocspNoCheck": "1.3.6.1.5.5.7.48.1.5",
    "tlsFeature": "1.3.6.1.5.5.7.1.24",
    "unknown": "1.2.3.4.5.6",
}
OTHER_OIDS = {
    "clientAuth": "1.3.6.1.5.5.7.3.2",
    "serverAuth": "1.3.6.1.5.5.7.3.1",
    "ocspSigning": "1.3.6.1.5.5.7.3.9",
    "anyExtendedKeyUsage": "2.5.29.37.0",
    "anyPolicy": "2.5.29.32.0",
    "ocsp": "1.3.6.1.5.5.7.48.1",
    "caIssuers": "1.3.6.1.5.5.7.48.2",
    "ocspBasic": "1.3.6.1.5.5.7.48.1.1",
    "unknown": "1.2.3.4.5.6.7",
}
TEXTS = [
    "alice",
    "node-1",
    "bob",
    "node-2",
    "",
    " ",
    "ålice",
    "nöde-1",
    "\u0130",
    "\uff21\uff2c\uff29\uff23\uff25",  # fullwidth ALICE: NFKC folds it to alice
    "alice\x00",
    "a" * 200,
    "ålice@exämple.com",
    "alice@example.com",
    "\U0001f600",
    "\ud7ff\ufffd",
    "NODE-1",
    "node-1 ",
]
TIMES = {
    UTC_TIME: [b"491231235959Z", b"500101000000Z", b"000101000000Z", b"991231235959Z", b"2501010000Z", b"250101000000"],
    GENERALIZED_TIME: [
        b"99991231235959Z",
        b"19700101000000Z",
        b"20250101000000.5Z",
        b"2025010100000Z",
        b"20250101000000+0100",
        b"00000101000000Z",
    ],
}
INTEGERS = [b"\x00", b"\xff", b"\x01", b"", b"\x00\x01", b"\x7f" + b"\xff" * 20, b"\x80" + b"\x00" * 20, b"\x01" * 40]

Scope = list[tuple[Node, Node | None]]
Operator = Callable[[random.Random, Scope], str | None]


def _siblings(parent: Node | None) -> list[Node] | None:
    return parent.children if parent is not None and parent.children is not None else None


def _is_list(parent: Node | None) -> bool:
    """A SEQUENCE OF / SET OF (or an explicit [n] around one value): every child has the same tag."""
    children = _siblings(parent)
    return bool(children) and len({(c.cls, c.number) for c in children or ()}) == 1


def _kind_of_oid(node: Node, parent: Node | None, grandparents: dict[int, Node | None]) -> str:
    """What an OBJECT IDENTIFIER names, from where it sits."""
    children = _siblings(parent) or []
    if parent is None or not children:
        return "other"
    position = next(i for i, c in enumerate(children) if c is node)
    above = grandparents.get(id(parent))
    if position == 1 and children[0].is_universal(OID):
        return "curve"  # SubjectPublicKeyInfo algorithm parameters: the named curve
    if position != 0:
        return "other"
    if above is not None and above.is_universal(SET):
        return "attribute"
    if len(children) in (2, 3) and children[-1].is_universal(OCTET_STRING) and len(children[-1].content) != 20:
        return "extension"
    if len(children) <= 2 and (len(children) == 1 or children[1].is_universal(NULL) or children[1].constructed):
        return "algorithm"
    return "other"


def _text_bytes(rng: random.Random, tag: int, text: str) -> bytes:
    if tag == BMP_STRING and rng.random() < 0.8:
        return text.encode("utf-16-be", "surrogatepass")
    if tag == UNIVERSAL_STRING and rng.random() < 0.8:
        return text.encode("utf-32-be", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def flip(rng: random.Random, scope: Scope) -> str | None:
    """Flip bits or overwrite a byte in a primitive value's content."""
    nodes = [n for n, _ in scope if n.content]
    if not nodes:
        return None
    node = rng.choice(nodes)
    content = bytearray(node.content)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(content))
        if rng.random() < 0.5:
            content[at] ^= 1 << rng.randrange(8)
        else:
            content[at] = rng.randrange(256)
    node.content = bytes(content)
    return f"flip tag {node.number}"


def length(rng: random.Random, scope: Scope) -> str | None:
    """Write one node's length in a non-DER or wrong form."""
    node, _ = rng.choice(scope)
    node.length = rng.choice(LENGTH_FORMS[1:])
    return f"length {node.length}"


def duplicate(rng: random.Random, scope: Scope) -> str | None:
    """Repeat a member of a list (an extension, CRL entry, SingleResponse, RDN...), the copy sometimes changed."""
    members = [(n, p) for n, p in scope if p is not None and _is_list(p)]
    if not members:
        return None
    node, parent = rng.choice(members)
    twin = copy.deepcopy(node)
    assert parent is not None
    assert parent.children is not None
    parent.children.insert(parent.children.index(node) + rng.randint(0, 1), twin)
    label = "duplicate"
    if rng.random() < 0.5:
        inner = list(twin.walk())
        operator = rng.choice([flip, swap_oid, retag_string, edge_value, rewrite_attribute])
        changed = operator(rng, inner)
        label += f"+{changed.split()[0]}" if changed else ""
    return label


def delete(rng: random.Random, scope: Scope) -> str | None:
    """Remove one child of a constructed value."""
    members = [(n, p) for n, p in scope if _siblings(p)]
    if not members:
        return None
    node, parent = rng.choice(members)
    assert parent is not None
    assert parent.children is not None
    parent.children.remove(node)
    return "delete"


def reorder(rng: random.Random, scope: Scope) -> str | None:
    """Swap two children of a constructed value."""
    parents = [n for n, _ in scope if n.children is not None and len(n.children) > 1]
    if not parents:
        return None
    parent = rng.choice(parents)
    assert parent.children is not None
    i, j = rng.sample(range(len(parent.children)), 2)
    parent.children[i], parent.children[j] = parent.children[j], parent.children[i]
    return "reorder"


def swap_oid(rng: random.Random, scope: Scope) -> str | None:
    """Replace an OBJECT IDENTIFIER by another of the same kind (algorithm, curve, attribute, extension)."""
    parents = {id(n): p for n, p in scope}
    oids = [(n, p) for n, p in scope if n.is_universal(OID)]
    if not oids:
        return None
    node, parent = rng.choice(oids)
    kind = _kind_of_oid(node, parent, parents)
    table = {"algorithm": ALGORITHMS, "curve": CURVES, "attribute": ATTRIBUTES, "extension": EXTENSIONS}.get(
        kind, OTHER_OIDS
    )
    name = rng.choice(sorted(table))
    node.content = oid_bytes(table[name])
    return f"oid {kind} {name}"


def retag_string(rng: random.Random, scope: Scope) -> str | None:
    """Change a string's type (UTF8String, PrintableString, IA5String, BMPString...), often with non-ASCII text."""
    strings = [n for n, _ in scope if n.cls == UNIVERSAL and n.number in STRING_TAGS]
    if not strings:
        return None
    node = rng.choice(strings)
    node.number = rng.choice(STRING_TAGS)
    if rng.random() < 0.6:
        node.content = _text_bytes(rng, node.number, rng.choice(TEXTS))
    return f"string type {node.number}"


def rewrite_attribute(rng: random.Random, scope: Scope) -> str | None:
    """Make one name attribute another attribute type with another string type and value."""
    parents = {id(n): p for n, p in scope}
    pairs = [
        n
        for n, p in scope
        if n.is_universal(SEQUENCE)
        and p is not None
        and p.is_universal(SET)
        and len(n.children or ()) == 2
        and (n.children or [])[0].is_universal(OID)
        and parents.get(id(p)) is not None
    ]
    if not pairs:
        return None
    node = rng.choice(pairs)
    assert node.children is not None
    attribute = rng.choice(sorted(ATTRIBUTES))
    tag = rng.choice(STRING_TAGS)
    node.children[0] = Node(UNIVERSAL, False, OID, oid_bytes(ATTRIBUTES[attribute]))
    node.children[1] = Node(UNIVERSAL, False, tag, _text_bytes(rng, tag, rng.choice(TEXTS)))
    return f"attribute {attribute} as {tag}"


def edge_value(rng: random.Random, scope: Scope) -> str | None:
    """Give a time, integer, boolean, bit string or null an edge value."""
    kinds = (UTC_TIME, GENERALIZED_TIME, INTEGER, BOOLEAN, BIT_STRING, NULL)
    nodes = [n for n, _ in scope if n.cls == UNIVERSAL and n.number in kinds and n.inner is None]
    if not nodes:
        return None
    node = rng.choice(nodes)
    if node.number in TIMES:
        if rng.random() < 0.3:
            node.number = GENERALIZED_TIME if node.number == UTC_TIME else UTC_TIME
        node.content = rng.choice(TIMES[node.number])
    elif node.number == INTEGER:
        node.content = rng.choice(INTEGERS)
    elif node.number == BOOLEAN:
        node.content = rng.choice([b"\x00", b"\xff", b"\x01", b"", b"\xff\xff"])
    elif node.number == BIT_STRING:
        node.content = rng.choice([b"", b"\x08\x00", b"\x07\x80", b"\x00", b"\x01\xff", node.content[:2]])
    else:
        node.content = b"\x00"
    return f"edge tag {node.number}"


def retag(rng: random.Random, scope: Scope) -> str | None:
    """Change a node's tag class or number (an implicit [n] for a universal type, or the other way round)."""
    node, _ = rng.choice(scope)
    if rng.random() < 0.5:
        node.cls = rng.choice([UNIVERSAL, CONTEXT, CONTEXT, 1, 3])
    else:
        node.number = rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 17, 31, 200])
    return f"tag {node.cls}/{node.number}"


def unwrap(rng: random.Random, scope: Scope) -> str | None:
    """Turn a parsed inner value (extension value, OCSP responseBytes) into raw bytes, then cut it short."""
    holders = [n for n, _ in scope if n.inner is not None]
    if not holders:
        return None
    node = rng.choice(holders)
    from .der import encode

    body = encode(node.inner) if node.inner is not None else b""
    node.inner = None
    node.content = (b"\x00" if node.is_universal(BIT_STRING) else b"") + body[: rng.randrange(len(body) + 1)]
    return "inner truncated"


def utf8_anywhere(rng: random.Random, scope: Scope) -> str | None:
    """Replace a primitive string-like value with non-ASCII UTF-8 (URIs, DNS names, emails in GeneralNames)."""
    nodes = [n for n, _ in scope if n.cls == CONTEXT and not n.constructed and n.number in (1, 2, 6)]
    if not nodes:
        return None
    node = rng.choice(nodes)
    node.content = rng.choice(TEXTS).encode("utf-8", "surrogatepass")
    return f"general name [{node.number}] text"


def pss_parameters(hash_oid: str | None, mgf_hash: str | None, salt: bytes | None, mgf: str = "mgf1") -> Node:
    """RSASSA-PSS-params (RFC 4055 3.1): each field left out when None (then its SHA-1 default applies)."""

    def algorithm(dotted: str) -> Node:
        return Node(UNIVERSAL, True, SEQUENCE, children=[Node(UNIVERSAL, False, OID, oid_bytes(dotted))])

    fields = []
    if hash_oid:
        fields.append(Node(CONTEXT, True, 0, children=[algorithm(ALGORITHMS[hash_oid])]))
    if mgf_hash:
        generator = algorithm(ALGORITHMS[mgf])
        assert generator.children is not None
        generator.children.append(algorithm(ALGORITHMS[mgf_hash]))
        fields.append(Node(CONTEXT, True, 1, children=[generator]))
    if salt is not None:
        fields.append(Node(CONTEXT, True, 2, children=[Node(UNIVERSAL, False, INTEGER, salt)]))
    return Node(UNIVERSAL, True, SEQUENCE, children=fields)


PSS_PARAMS = [
    (None, None, None),
    ("sha256", "sha256", b"\x20"),
    ("sha256", "sha512", b"\x20"),
    ("sha3-256", "sha3-256", b"\x20"),
    ("unknown", "sha256", b"\x20"),
    ("sha256", "sha256", b"\xff"),
    ("sha256", "sha256", b"\x7f\xff\xff\xff\xff"),
    ("md5", "md5", b"\x00"),
]


def pss(rng: random.Random, scope: Scope) -> str | None:
    """Make a signature AlgorithmIdentifier RSASSA-PSS with ordinary or odd parameters (hash, MGF, salt)."""
    parents = {id(n): p for n, p in scope}
    algorithms = [
        p for n, p in scope if n.is_universal(OID) and p is not None and _kind_of_oid(n, p, parents) == "algorithm"
    ]
    if not algorithms:
        return None
    node = rng.choice(algorithms)
    hash_oid, mgf_hash, salt = rng.choice(PSS_PARAMS)
    mgf = "unknown" if rng.random() < 0.1 else "mgf1"
    parameters = pss_parameters(hash_oid, mgf_hash, salt, mgf)
    node.children = [Node(UNIVERSAL, False, OID, oid_bytes(ALGORITHMS["rsaPSS"])), parameters]
    return f"pss {hash_oid}/{mgf}:{mgf_hash}"


OPERATORS: list[tuple[Operator, int]] = [
    (flip, 3),
    (length, 2),
    (duplicate, 4),
    (delete, 2),
    (reorder, 1),
    (swap_oid, 4),
    (retag_string, 2),
    (rewrite_attribute, 2),
    (edge_value, 3),
    (retag, 1),
    (unwrap, 1),
    (utf8_anywhere, 1),
    (pss, 1),
]


def mutate(rng: random.Random, root: Node, count: int) -> list[str]:
    """Apply ``count`` operators to ``root`` and what lies below it (changed in place; ``root`` itself keeps its
    place in its parent); return their labels."""
    labels: list[str] = []
    scope: Scope = list(root.walk())
    operators = [op for op, _ in OPERATORS]
    weights = [w for _, w in OPERATORS]
    tries = 0
    while len(labels) < count and tries < 20:
        tries += 1
        label = rng.choices(operators, weights)[0](rng, scope)
        if label is not None:
            labels.append(label)
            scope = list(root.walk())
    return labels


def mangle_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Byte-level damage after encoding: truncate, insert or append garbage."""
    choice = rng.randrange(3)
    if choice == 0 or not data:
        return data[: rng.randrange(len(data) + 1)], "truncate"
    if choice == 1:
        at = rng.randrange(len(data))
        return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:], "insert bytes"
    return data + rng.randbytes(rng.randint(1, 8)), "trailing bytes"
