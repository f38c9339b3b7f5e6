"""The fuzzed PKI and the five input kinds: where each kind's bytes come from, which part is signed (and by
which key), how a mutated copy reaches the authorizer, and what the rules say an Allow requires.

PKI: root -> issuing CA (name constraints on rfc822/DNS, CDP and OCSP URLs on a live 127.0.0.1 server) ->
client certificates; the issuing CA answers OCSP through a delegated responder. Every CRL and OCSP answer is
made as of the fixed clock, so a long run decides its last input as it decided its first. Each kind has its own leaf,
so the mutated source is the only revocation source the leaf has."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from nodegate.pki.authority import CertificateAuthority, Issued, PrivateKey, crl_der, pem
from nodegate_authorizer.handler import make_handler
from nodegate_authorizer.revocation.ocsp import ocsp_request
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import load_settings
from nodegate_dev.world import MemoryResponder, TestRevocationServer, event

from .der import (
    CONTEXT,
    ENUMERATED,
    GENERALIZED_TIME,
    OCTET_STRING,
    OID,
    SEQUENCE,
    UNIVERSAL,
    Node,
    encode,
    oid_bytes,
    parse,
)
from .mutate import mangle_bytes, mutate

KINDS = ("leaf", "truststore", "crl-fetched", "crl-store", "ocsp", "ocsp-delegate")


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def armor(body: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM armour around any bytes (the mutated DER need not parse)."""
    return f"-----BEGIN {label}-----\n".encode() + base64.encodebytes(body) + f"-----END {label}-----\n".encode()


def sign(key: PrivateKey, data: bytes) -> bytes:
    """The signature the fixture keys make (ECDSA or RSA PKCS#1 v1.5, SHA-256)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def resign(signed: Node, key: PrivateKey) -> None:
    """Sign ``signed`` (SEQUENCE {tbs, algorithm, BIT STRING signature, ...}) again over its current TBS."""
    assert signed.children is not None
    assert len(signed.children) >= 3
    signature = signed.children[2]
    signature.inner, signature.length = None, "der"
    signature.content = b"\x00" + sign(key, encode(signed.children[0]))


def with_version(cert: x509.Certificate, key: PrivateKey, encoded: bytes) -> bytes:
    """``cert``'s DER with its TBSCertificate's ``[0] EXPLICIT Version`` INTEGER content replaced by ``encoded``,
    signed again by ``key`` (e.g. ``b"\\x00"``: a DEFAULT v1 encoded; ``b"\\x03"``: a version that does not exist)."""
    tree = parse(cert.public_bytes(serialization.Encoding.DER))
    version = tree.children[0].children[0]  # type: ignore[index]
    assert version.children is not None
    version.children[0].content = encoded
    resign(tree, key)
    return encode(tree)


def _basic(tree: Node) -> Node:
    """BasicOCSPResponse inside OCSPResponse { status, [0] { SEQUENCE { type, OCTET STRING {basic} } } }."""
    assert tree.children is not None
    holder = tree.children[1].children[0].children[1]  # type: ignore[index]
    assert holder.inner is not None
    return holder.inner


def _delegate(tree: Node) -> Node:
    """The responder certificate in BasicOCSPResponse [0] { SEQUENCE OF Certificate }."""
    basic = _basic(tree)
    assert basic.children is not None
    return basic.children[3].children[0].children[0]  # type: ignore[index]


def _extension(oid: str, value: Node) -> Node:
    return Node(UNIVERSAL, True, SEQUENCE, children=[Node(UNIVERSAL, False, OID, oid_bytes(oid)), _octets(value)])


def _octets(value: Node) -> Node:
    return Node(UNIVERSAL, False, OCTET_STRING, inner=value)


def with_extensions(response: bytes, key: PrivateKey) -> bytes:
    """The answer with a nonce in responseExtensions and reasonCode + invalidityDate in each singleExtensions
    (RFC 6960 4.4.1, 4.4.2 / RFC 5280 5.3), signed again: material for the duplicate operator."""
    tree = parse(response)
    basic = _basic(tree)
    tbs = basic.children[0]  # type: ignore[index]
    assert tbs.children is not None
    nonce = _extension("1.3.6.1.5.5.7.48.1.2", Node(UNIVERSAL, False, OCTET_STRING, bytes(range(16))))
    tbs.children.append(Node(CONTEXT, True, 1, children=[Node(UNIVERSAL, True, SEQUENCE, children=[nonce])]))
    singles = next(c for c in tbs.children if c.is_universal(SEQUENCE) and c.children)
    for single in singles.children or ():
        assert single.children is not None
        reason = _extension("2.5.29.21", Node(UNIVERSAL, False, ENUMERATED, b"\x01"))
        invalid = _extension("2.5.29.24", Node(UNIVERSAL, False, GENERALIZED_TIME, b"20250101000000Z"))
        extensions = Node(UNIVERSAL, True, SEQUENCE, children=[reason, invalid])
        single.children.append(Node(CONTEXT, True, 1, children=[extensions]))
    resign(basic, key)
    return encode(tree)


@dataclass
class Pki:
    """Keys, certificates, original sources and the live server, built once per test module."""

    tmp: Path
    now: dt.datetime
    server: TestRevocationServer
    root: CertificateAuthority
    issuing: CertificateAuthority
    delegate: Issued
    leaves: dict[str, Issued]
    crl: bytes
    root_crl: bytes
    ocsp_revoked: bytes
    ocsp_good: bytes
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, tmp: Path) -> Pki:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        server = TestRevocationServer(MemoryResponder({}, {})).start()
        url = server.url
        root = CertificateAuthority.root("fuzz root", crl_url=f"{url}/crl/root.crl")
        constraints = x509.NameConstraints(
            permitted_subtrees=[x509.RFC822Name("example.com"), x509.DNSName("example.com")],
            excluded_subtrees=[x509.DNSName("evil.example.com")],
        )
        issuing = root.sub_ca(
            "fuzz issuing",
            crl_url=f"{url}/crl/issuing.crl",
            ocsp_url=f"{url}/ocsp/issuing",
            extensions=[(constraints, True)],
        )
        delegate = issuing.ocsp_signer()
        server.responder.cas.update(root=root, issuing=issuing)
        server.responder.signers["issuing"] = delegate

        def leaf(crl_url: bool, ocsp_url: bool) -> Issued:
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nodegate operators"),
                    x509.NameAttribute(NameOID.EMAIL_ADDRESS, "alice@example.com"),
                    x509.NameAttribute(NameOID.USER_ID, "alice"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "node-1"),
                ]
            )
            sans = [x509.RFC822Name("alice@example.com"), x509.DNSName("node-1.example.com")]
            return issuing.issue(subject, sans=sans, with_crl_url=crl_url, with_ocsp_url=ocsp_url)

        leaves = {
            "leaf": leaf(True, True),
            "truststore": leaf(True, True),
            "crl-fetched": leaf(True, False),
            "crl-store": leaf(False, False),
            "ocsp": leaf(False, True),
            "ocsp-delegate": leaf(False, True),
        }
        revoked_at = now - dt.timedelta(hours=1)
        revoked = {leaves[k].cert.serial_number: revoked_at for k in ("crl-fetched", "crl-store")}
        reasons = {leaves["crl-fetched"].cert.serial_number: x509.ReasonFlags.key_compromise}
        crl = crl_der(issuing.crl(revoked, this_update=now - dt.timedelta(minutes=5), reasons=reasons))

        def answer(kind: str, status: ocsp.OCSPCertStatus) -> bytes:
            request = ocsp.load_der_ocsp_request(ocsp_request(leaves[kind].cert, issuing.cert))
            response = issuing.ocsp_response(
                request, status, revoked_at=revoked_at, responder=delegate, this_update=now - dt.timedelta(minutes=5)
            )
            return with_extensions(response.public_bytes(serialization.Encoding.DER), delegate.key)

        (tmp / "store").mkdir()
        return cls(
            tmp,
            now,
            server,
            root,
            issuing,
            delegate,
            leaves,
            crl,
            crl_der(root.crl({}, this_update=now - dt.timedelta(minutes=5))),
            answer("ocsp", ocsp.OCSPCertStatus.REVOKED),
            answer("ocsp-delegate", ocsp.OCSPCertStatus.GOOD),
        )

    def good_answer(self, authority: CertificateAuthority, request: ocsp.OCSPRequest) -> bytes:
        """The delegate's "good" for any certificate, as of the fixed clock (the server's own answers would
        follow the wall clock and drift past CLOCK_SKEW_SECONDS during a long run)."""
        this_update = self.now - dt.timedelta(minutes=5)
        response = authority.ocsp_response(
            request, ocsp.OCSPCertStatus.GOOD, responder=self.delegate, this_update=this_update
        )
        return response.public_bytes(serialization.Encoding.DER)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clock(self) -> dt.datetime:
        return self.now + dt.timedelta(minutes=1)

    def env(self, kind: str) -> dict[str, str]:
        """Settings for one kind: hard-fail, except the CRL store kind (require: a CRL that stops naming the
        issuer must not leave the leaf passing as "no source at all")."""
        values = {
            "TRUSTSTORE_URI": (self.tmp / "truststore.pem").as_uri(),
            "REVOCATION_MODE": "hard-fail",
            "FETCH_TIMEOUT_SECONDS": "2",
            "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "REVOCATION_RETRY_SECONDS": "0",
        }
        if kind == "crl-store":
            values |= {"REVOCATION_MODE": "require", "CRL_STORE_URI": (self.tmp / "store").as_uri() + "/"}
        return values


@dataclass
class Mutant:
    """One generated input: the mutated bytes, where they went, and how they were made."""

    kind: str
    index: int
    resign: bool
    labels: list[str]
    data: bytes
    original: bytes
    part: str = ""
    """Which certificate of the bundle changed (truststore kind: root or intermediate)."""


class Target:
    """One input kind over the shared PKI: make a mutant, deliver it, and decide it through the handler."""

    def __init__(self, pki: Pki, kind: str) -> None:
        self.pki = pki
        self.kind = kind
        self.settings = load_settings(pki.env(kind))
        self._trees: dict[str, Node] = {}

    def original(self, part: str) -> bytes:
        pki = self.pki
        return {
            "leaf": der(pki.leaves["leaf"].cert),
            "root": der(pki.root.cert),
            "intermediate": der(pki.issuing.cert),
            "crl": pki.crl,
            "ocsp": pki.ocsp_revoked,
            "delegate": pki.ocsp_good,
        }[part]

    def _tree(self, part: str) -> Node:
        if part not in self._trees:
            self._trees[part] = parse(self.original(part))
        return copy.deepcopy(self._trees[part])

    def signer(self, part: str) -> PrivateKey:
        """The key that signs ``part``: the root signs itself and the intermediate, the delegate signs answers."""
        pki = self.pki
        return {"root": pki.root.key, "intermediate": pki.root.key, "ocsp": pki.delegate.key}.get(part, pki.issuing.key)

    def part(self, rng: random.Random) -> str:
        return {
            "leaf": "leaf",
            "truststore": rng.choice(["root", "intermediate"]),
            "crl-fetched": "crl",
            "crl-store": "crl",
            "ocsp": "ocsp",
            "ocsp-delegate": "delegate",
        }[self.kind]

    def generate(self, seed: str, index: int) -> Mutant:
        """The ``index``-th mutant of this kind for ``seed``: half of them signed again with the right key."""
        rng = random.Random(f"{seed}:{self.kind}:{index}")
        part = self.part(rng)
        tree = self._tree(part)
        resign_mode = rng.random() < 0.5
        count = rng.choice([1, 1, 1, 2, 3])
        signer = self.signer(part)
        if part == "ocsp":
            signed = _basic(tree)
        elif part == "delegate":
            signed = _delegate(tree)
        else:
            signed = tree
        assert signed.children is not None
        labels = mutate(rng, signed.children[0] if resign_mode else signed, count)
        if resign_mode:
            resign(signed, signer)
        data = encode(tree)
        if not resign_mode and rng.random() < 0.1:
            data, label = mangle_bytes(rng, data)
            labels.append(label)
        return Mutant(self.kind, index, resign_mode, labels, data, self.original(part), part)

    def decide(self, mutant: Mutant) -> dict[str, Any]:
        """Deliver the mutant (event, truststore file, served or stored CRL, served OCSP) and run the handler
        on a fresh runtime (nothing cached from the previous input)."""
        pki = self.pki
        responder = pki.server.responder
        responder.crl_override.update(root=pki.root_crl, issuing=pki.crl)
        responder.ocsp_override["issuing"] = pki.good_answer
        bundle = [pki.root.cert, pki.issuing.cert]
        store = pki.tmp / "store" / "issuing.crl"
        store.unlink(missing_ok=True)
        leaf_pem = pki.leaves[self.kind].cert_pem()
        data = mutant.data
        if self.kind == "leaf":
            leaf_pem = armor(data)
        if self.kind == "truststore":
            entries = [armor(data) if mutant.part == "root" else pem(pki.root.cert)]
            entries.append(armor(data) if mutant.part == "intermediate" else pem(pki.issuing.cert))
            (pki.tmp / "truststore.pem").write_bytes(b"".join(entries))
        else:
            (pki.tmp / "truststore.pem").write_bytes(pem(*bundle))
        if self.kind == "crl-fetched":
            responder.crl_override["issuing"] = data
        if self.kind == "crl-store":
            store.write_bytes(data)
        if self.kind in ("ocsp", "ocsp-delegate"):
            responder.ocsp_override["issuing"] = lambda _authority, _request: data
        handler = make_handler(build_runtime(self.settings), pki.clock)
        return handler(event(leaf_pem, "node-1"))
