"""A small DER TLV tree for the fuzzer: parse a DER object, change it, and encode it again (test-only).

Constructed values are parsed into children; an OCTET STRING or BIT STRING whose content is itself one DER
value (extension values, OCSP responseBytes, subjectPublicKey of EC keys is not) is parsed as ``inner``, so
mutations reach inside it and its length is fixed up when it is encoded again. ``length`` chooses how the
length octets are written: ``der`` (minimal), or a deliberate non-DER or wrong form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OID, ENUMERATED = 1, 2, 3, 4, 5, 6, 10
UTF8_STRING, SEQUENCE, SET, PRINTABLE_STRING, T61_STRING, IA5_STRING = 12, 16, 17, 19, 20, 22
UTC_TIME, GENERALIZED_TIME, UNIVERSAL_STRING, BMP_STRING = 23, 24, 28, 30
STRING_TAGS = (UTF8_STRING, PRINTABLE_STRING, T61_STRING, IA5_STRING, UNIVERSAL_STRING, BMP_STRING)
LENGTH_FORMS = ("der", "long", "overlong", "indefinite", "plus1", "minus1", "huge")


class DerError(ValueError):
    """The bytes are not one well-formed DER value (only raised for the fuzzer's own seed inputs)."""


@dataclass
class Node:
    """One TLV: identifier (class, constructed, number), and either children, an inner value, or raw content."""

    cls: int
    constructed: bool
    number: int
    content: bytes = b""
    children: list[Node] | None = None
    inner: Node | None = None
    length: str = "der"
    meta: dict[str, str] = field(default_factory=dict)

    def walk(self, parent: Node | None = None) -> Iterator[tuple[Node, Node | None]]:
        """Every node below and including this one, with its parent (the holder of ``inner`` counts as parent)."""
        yield self, parent
        for child in self.children or ():
            yield from child.walk(self)
        if self.inner is not None:
            yield from self.inner.walk(self)

    def is_universal(self, number: int) -> bool:
        return self.cls == UNIVERSAL and self.number == number


def _identifier(node: Node) -> bytes:
    first = (node.cls << 6) | (0x20 if node.constructed else 0)
    if node.number < 31:
        return bytes([first | node.number])
    digits = []
    number = node.number
    while True:
        digits.append(number & 0x7F)
        number >>= 7
        if not number:
            break
    groups = [d | 0x80 for d in reversed(digits[1:])] + [digits[0]]
    return bytes([first | 0x1F, *groups])


def _length(size: int, form: str) -> bytes:
    if form == "plus1":
        size += 1
    elif form == "minus1":
        size = max(size - 1, 0)
    if form == "huge":
        return b"\x84\xff\xff\xff\xff"
    if form == "overlong":
        return b"\x88" + size.to_bytes(8, "big")
    if size < 0x80 and form != "long":
        return bytes([size])
    body = size.to_bytes(max((size.bit_length() + 7) // 8, 1), "big")
    return bytes([0x80 | len(body)]) + body


def encode(node: Node) -> bytes:
    """The node's bytes: children and inner values encoded first, then its identifier and length."""
    if node.children is not None:
        content = b"".join(encode(child) for child in node.children)
    elif node.inner is not None:
        content = (b"\x00" if node.is_universal(BIT_STRING) else b"") + encode(node.inner)
    else:
        content = node.content
    if node.length == "indefinite":
        return _identifier(node) + b"\x80" + content + b"\x00\x00"
    return _identifier(node) + _length(len(content), node.length) + content


def _read(data: bytes, at: int) -> tuple[Node, int]:
    if at >= len(data):
        raise DerError("truncated identifier")
    first = data[at]
    at += 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if at >= len(data):
                raise DerError("truncated tag number")
            byte = data[at]
            at += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
    if at >= len(data):
        raise DerError("truncated length")
    size = data[at]
    at += 1
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 4:
            raise DerError("indefinite or oversized length")
        size = int.from_bytes(data[at : at + count], "big")
        at += count
    end = at + size
    if end > len(data):
        raise DerError("content runs past the end")
    node = Node(first >> 6, bool(first & 0x20), number, data[at:end])
    if node.constructed:
        node.children = parse_all(node.content)
        node.content = b""
    else:
        node.inner = _inner(node)
        if node.inner is not None:
            node.content = b""
    return node, end


def _inner(node: Node) -> Node | None:
    """A value nested in an OCTET STRING or BIT STRING, when its whole content is one constructed DER value."""
    if node.is_universal(OCTET_STRING):
        body = node.content
    elif node.is_universal(BIT_STRING) and node.content[:1] == b"\x00":
        body = node.content[1:]
    else:
        return None
    if not body or body[0] not in (0x30, 0x31, 0xA0):  # SEQUENCE, SET or [0]: not a bare key or hash
        return None
    try:
        inner = parse(body)
    except DerError:
        return None
    return inner if encode(inner) == body else None


def parse_all(data: bytes) -> list[Node]:
    """Every TLV of ``data`` in order."""
    nodes, at = [], 0
    while at < len(data):
        node, at = _read(data, at)
        nodes.append(node)
    return nodes


def parse(data: bytes) -> Node:
    """Exactly one DER value (it must encode back to the same bytes)."""
    node, end = _read(data, 0)
    if end != len(data):
        raise DerError("trailing bytes")
    return node


def oid_bytes(dotted: str) -> bytes:
    """The content octets of an OBJECT IDENTIFIER."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def oid_text(content: bytes) -> str:
    """Dotted form of OBJECT IDENTIFIER content octets (best effort, for labels)."""
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return "?"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])
