"""Identity rules by kind: allowed, each ambiguity denied, malformed SANs denied, rules per CA kept apart, the
X.509-SVID rules (SPIFFE X509-SVID 2, 4.1, 4.3) and the SPIFFE ID grammar (SPIFFE-ID 2.1, 2.2); real certificates
through decide() and the response."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixed import NOW, T0, root, sub
from nodegate.diagnostics.explain import explain, render
from nodegate.pki.authority import CA_USAGE, CLIENT_USAGE, CertificateAuthority, Issued, client_name, name, new_key
from nodegate_authorizer.access_policy import PolicyError, parse_policy
from nodegate_authorizer.chain import PathPolicy
from nodegate_authorizer.decision import Allowed, DecisionInputs, Refused, decide
from nodegate_authorizer.event import parse_event
from nodegate_authorizer.handler import make_handler, respond
from nodegate_authorizer.identity import SAFE_ID, IdentityRule
from nodegate_authorizer.identity_rules import Template, key_id
from nodegate_authorizer.reasons import Reason
from nodegate_authorizer.revocation.answers import RevocationOutcome
from nodegate_authorizer.runtime import build_runtime
from nodegate_authorizer.settings import DEFAULT_ID_PATTERN, load_settings
from nodegate_authorizer.truststore import parse_truststore
from nodegate_dev.world import event

RULE = IdentityRule("UID", "CN", re.compile(DEFAULT_ID_PATTERN))
TOP = root("Rules Root")
SPIRE = sub(TOP, "SPIRE Issuing")
MAIL = sub(TOP, "Mail Issuing")
DNS = sub(TOP, "DNS Issuing")
LEGACY = sub(TOP, "Legacy Issuing")
STRAY = sub(TOP, "No Rule Issuing")
STORE = parse_truststore(b"".join(ca.cert_pem() for ca in (TOP, SPIRE, MAIL, DNS, LEGACY, STRAY)))
SPIFFE = "spiffe://example.org/operator/{user}/node/{node}"


def hexkey(ca: CertificateAuthority) -> str:
    return key_id(ca.cert).hex()


RULES: list[dict[str, Any]] = [
    {"name": "spire", "issuer": {"subjectKeyIdentifier": hexkey(SPIRE)}, "uri": SPIFFE},
    {
        "name": "mail",
        "issuer": {"subject": "CN=Mail Issuing,O=nodegate dev PKI"},
        "email": "{user}@example.com",
        "node": {"subject": "CN"},
    },
    {
        "name": "dns",
        "issuer": {"subjectKeyIdentifier": hexkey(DNS)},
        "dns": "{node}.nodes.example.com",
        "user": {"subject": "UID"},
    },
    {"name": "legacy", "issuer": {"subjectKeyIdentifier": hexkey(LEGACY)}, "subject": {"user": "UID", "node": "CN"}},
]


def policy(rules: list[dict[str, Any]] = RULES, **extra: Any) -> bytes:
    return json.dumps({"version": 1, "identityRules": rules} | extra).encode()


def inputs(document: bytes | None = None) -> DecisionInputs:
    access = parse_policy(document or policy(), RULE)
    return DecisionInputs(STORE, PathPolicy(), RULE, access, lambda path, now, store: RevocationOutcome())


def leaf(
    ca: CertificateAuthority,
    *sans: x509.GeneralName,
    subject: x509.Name | None = None,
    usage: x509.KeyUsage | object | None = CLIENT_USAGE,
) -> Issued:
    return ca.issue(
        subject if subject is not None else name(O="workloads"),
        not_before=T0,
        sans=sans,
        key_usage=usage,
        with_crl_url=False,
        with_ocsp_url=False,
    )


def uri(value: str) -> x509.UniformResourceIdentifier:
    return x509.UniformResourceIdentifier(value)


def run(cert: Issued, node: str = "node-1", document: bytes | None = None) -> Allowed | Refused:
    return decide(parse_event(event(cert.cert_pem(), node)), inputs(document), NOW)


def refused(cert: Issued, node: str = "node-1", document: bytes | None = None) -> Reason:
    decision = run(cert, node, document)
    assert isinstance(decision, Refused), decision
    return decision.reason


class TestEachKind:
    @pytest.mark.parametrize(
        ("cert", "rule"),
        [
            (leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1")), "spire"),
            (leaf(MAIL, x509.RFC822Name("alice@example.com"), subject=name(CN="node-1")), "mail"),
            (leaf(DNS, x509.DNSName("node-1.nodes.example.com"), subject=name(UID="alice")), "dns"),
            (leaf(LEGACY, subject=client_name("alice", "node-1")), "legacy"),
        ],
        ids=["uri-spiffe", "email-node-from-subject", "dns-user-from-subject", "subject"],
    )
    def test_allowed_with_the_rule_named_in_the_context(self, cert: Issued, rule: str) -> None:
        decision = run(cert)
        assert isinstance(decision, Allowed), decision
        assert (decision.identity.user_id, decision.identity.node_id, decision.identity.rule) == (
            "alice",
            "node-1",
            rule,
        )
        response = respond(decision, parse_event(event(cert.cert_pem())))
        assert response["context"]["identityRule"] == rule
        assert response["context"]["userId"] == "alice"

    def test_email_with_the_node_from_a_uri(self) -> None:
        rule = {
            "name": "mail-uri",
            "issuer": {"subjectKeyIdentifier": hexkey(MAIL)},
            "email": "{user}@example.com",
            "node": {"uri": "https://nodes.example.com/{node}"},
        }
        cert = leaf(MAIL, x509.RFC822Name("alice@example.com"), uri("https://nodes.example.com/node-1"))
        decision = run(cert, document=policy([rule]))
        assert isinstance(decision, Allowed)
        assert decision.identity.rule == "mail-uri"
        assert (decision.identity.user_id, decision.identity.node_id) == ("alice", "node-1")

    def test_the_certificate_node_still_binds(self) -> None:
        cert = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"))
        assert refused(cert, "node-2") == Reason.NODE_MISMATCH

    def test_without_rules_every_ca_decides_as_before(self) -> None:
        cert = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"), subject=client_name("bob", "node-1"))
        decision = run(cert, document=json.dumps({"version": 1}).encode())
        assert isinstance(decision, Allowed)
        assert (decision.identity.user_id, decision.identity.rule) == ("bob", "default")


class TestAmbiguity:
    @pytest.mark.parametrize(
        "sans",
        [
            [
                uri("spiffe://example.org/operator/alice/node/node-1"),
                uri("spiffe://example.org/operator/bob/node/node-1"),
            ],
            [uri("spiffe://example.org/operator/alice/node/node-1"), uri("https://example.org/alice")],
            [],
            [x509.DNSName("node-1.example.org")],
        ],
        ids=["two-matching-sans", "a-san-matching-no-rule", "no-san", "san-of-another-kind-only"],
    )
    def test_uri_rule(self, sans: list[x509.GeneralName]) -> None:
        assert refused(leaf(SPIRE, *sans)) == Reason.AMBIGUOUS_IDENTITY

    def test_email_and_dns_rules(self) -> None:
        two = leaf(
            MAIL, x509.RFC822Name("alice@example.com"), x509.RFC822Name("bob@example.com"), subject=name(CN="node-1")
        )
        assert refused(two) == Reason.AMBIGUOUS_IDENTITY
        stray = leaf(
            DNS, x509.DNSName("node-1.nodes.example.com"), x509.DNSName("www.example.com"), subject=name(UID="alice")
        )
        assert refused(stray) == Reason.AMBIGUOUS_IDENTITY
        assert refused(leaf(MAIL, subject=name(CN="node-1"))) == Reason.AMBIGUOUS_IDENTITY

    def test_other_san_kinds_are_not_read(self) -> None:
        """X509-SVID 2: an SVID may carry other SAN types, DNS SANs included."""
        cert = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"), x509.DNSName("svc.example.org"))
        assert isinstance(run(cert), Allowed)

    def test_email_rule_needs_its_subject_attribute_once(self) -> None:
        cert = leaf(MAIL, x509.RFC822Name("alice@example.com"), subject=name(CN=["node-1", "node-2"]))
        assert refused(cert) == Reason.BAD_IDENTITY


MALFORMED = {
    "percent-encoded-id": "spiffe://example.org/operator/al%69ce/node/node-1",
    "percent-encoded-literal": "spiffe://example.org/oper%61tor/alice/node/node-1",
    "dot-segment": "spiffe://example.org/operator/./node/node-1",
    "dot-dot-segment": "spiffe://example.org/operator/../operator/alice/node/node-1",
    "empty-segment": "spiffe://example.org/operator//node/node-1",
    "trailing-slash": "spiffe://example.org/operator/alice/node/node-1/",
    "uppercase-scheme": "SPIFFE://example.org/operator/alice/node/node-1",
    "uppercase-host": "spiffe://Example.org/operator/alice/node/node-1",
    "userinfo": "spiffe://alice@example.org/operator/alice/node/node-1",
    "port": "spiffe://example.org:443/operator/alice/node/node-1",
    "idna-host": "spiffe://xn--exmple-cua.org/operator/alice/node/node-1",
    "query": "spiffe://example.org/operator/alice/node/node-1?admin=1",
    "fragment": "spiffe://example.org/operator/alice/node/node-1#x",
    "other-trust-domain": "spiffe://example.com/operator/alice/node/node-1",
    "nul": "spiffe://example.org/operator/alice\x00/node/node-1",
    "space": "spiffe://example.org/operator/alice%20x/node/node-1",
    "leading-dash": "spiffe://example.org/operator/-alice/node/node-1",
    "too-long": "spiffe://example.org/operator/" + "a" * 65 + "/node/node-1",
}


class TestMalformed:
    @pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
    def test_uri_sans(self, value: str) -> None:
        assert refused(leaf(SPIRE, uri(value))) in (Reason.BAD_IDENTITY, Reason.AMBIGUOUS_IDENTITY)

    @pytest.mark.parametrize(
        "value",
        [
            "alice@EXAMPLE.com",
            "alice@example.com.",
            "al%69ce@example.com",
            "@example.com",
            "alice@xn--exmple-cua.com",
            "alice\x00@example.com",
            "alice+x@example.com",
            "alice@example.com:25",
        ],
    )
    def test_email_sans(self, value: str) -> None:
        cert = leaf(MAIL, x509.RFC822Name(value), subject=name(CN="node-1"))
        assert refused(cert) in (Reason.BAD_IDENTITY, Reason.AMBIGUOUS_IDENTITY)

    @pytest.mark.parametrize(
        "value",
        [
            "NODE-1.nodes.example.com",
            "node-1.NODES.example.com",
            "node-1.nodes.example.com.",
            "*.nodes.example.com",
            "node-1.xn--ndes-lra.example.com",
            "node_1.nodes.example.com.evil",
            ".nodes.example.com",
        ],
    )
    def test_dns_sans(self, value: str) -> None:
        cert = leaf(DNS, x509.DNSName(value), subject=name(UID="alice"))
        assert refused(cert) in (Reason.BAD_IDENTITY, Reason.AMBIGUOUS_IDENTITY)


class TestSvid:
    """SPIFFE X509-SVID 4.1 and 4.3 on the leaf, for spiffe:// rules only."""

    GOOD = uri("spiffe://example.org/operator/alice/node/node-1")

    @pytest.mark.parametrize(
        "usage",
        [
            None,
            x509.KeyUsage(False, False, True, False, False, False, False, False, False),
            x509.KeyUsage(True, False, False, False, False, False, True, False, False),
        ],
        ids=["no-key-usage", "no-digital-signature", "crl-sign"],
    )
    def test_key_usage(self, usage: x509.KeyUsage | None) -> None:
        assert refused(leaf(SPIRE, self.GOOD, usage=usage)) == Reason.WRONG_KEY_USAGE

    def test_the_same_leaf_passes_a_non_spiffe_rule(self) -> None:
        rule = {
            "name": "plain",
            "issuer": {"subjectKeyIdentifier": hexkey(SPIRE)},
            "uri": "https://example.org/{user}/{node}",
        }
        cert = leaf(SPIRE, uri("https://example.org/alice/node-1"), usage=None)
        assert isinstance(run(cert, document=policy([rule])), Allowed)

    def test_a_ca_leaf_is_refused(self) -> None:
        cert = SPIRE.issue(
            name(O="w"), ca=True, not_before=T0, sans=[self.GOOD], with_crl_url=False, with_ocsp_url=False
        )
        assert refused(cert) == Reason.WRONG_KEY_USAGE


class TestPerCa:
    def test_a_certificate_of_one_ca_is_never_read_by_another_cas_rule(self) -> None:
        email_from_spire = leaf(SPIRE, x509.RFC822Name("alice@example.com"), subject=name(CN="node-1"))
        assert refused(email_from_spire) == Reason.AMBIGUOUS_IDENTITY  # SPIRE's rule wants a URI SAN
        spiffe_from_mail = leaf(MAIL, uri("spiffe://example.org/operator/alice/node/node-1"), subject=name(CN="node-2"))
        assert refused(spiffe_from_mail) == Reason.AMBIGUOUS_IDENTITY  # MAIL's rule wants an email SAN
        subject_from_spire = leaf(SPIRE, subject=client_name("alice", "node-1"))
        assert refused(subject_from_spire) == Reason.AMBIGUOUS_IDENTITY

    def test_a_ca_without_a_rule_is_refused(self) -> None:
        assert refused(leaf(STRAY, subject=client_name("alice", "node-1"))) == Reason.BAD_IDENTITY

    def test_an_impostor_ca_with_the_same_name_but_another_key(self) -> None:
        """The rule keyed by SKI follows the key; a CA named like SPIRE's under another root is not trusted."""
        impostor = sub(root("Rules Root"), "SPIRE Issuing")
        assert (
            refused(leaf(impostor, uri("spiffe://example.org/operator/alice/node/node-1"))) == Reason.UNTRUSTED_ISSUER
        )

    def test_two_rules_naming_one_ca_are_ambiguous(self) -> None:
        both = [
            *RULES,
            {
                "name": "spire-by-name",
                "issuer": {"subject": "CN=SPIRE Issuing,O=nodegate dev PKI"},
                "email": "{user}@example.com",
                "node": {"subject": "CN"},
            },
        ]
        cert = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"))
        assert refused(cert, document=policy(both)) == Reason.AMBIGUOUS_IDENTITY

    def test_the_name_selector_matches_as_rfc_5280_7_1_does(self) -> None:
        rules = [
            {
                "name": "mail",
                "issuer": {"subject": "CN=mail  ISSUING,O=NODEGATE dev pki"},
                "email": "{user}@example.com",
                "node": {"subject": "CN"},
            }
        ]
        cert = leaf(MAIL, x509.RFC822Name("alice@example.com"), subject=name(CN="node-1"))
        assert isinstance(run(cert, document=policy(rules)), Allowed)


def certify(
    parent: CertificateAuthority, subject: x509.Name, ski: bytes, key: CertificateAuthority | None = None
) -> CertificateAuthority:
    """A CA certificate from ``parent`` whose subjectKeyIdentifier extension says ``ski``, whatever its key (a new
    one, or ``key``'s: a cross-certificate). ``CertificateAuthority.issue`` always writes the key's own SKI."""
    private = key.key if key is not None else new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent.cert.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + (NOW - T0) * 10)
        .add_extension(x509.SubjectKeyIdentifier(ski), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .sign(parent.key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return CertificateAuthority(cert, private)


def decide_in(cas: list[CertificateAuthority], rules: list[dict[str, Any]], cert: Issued) -> Allowed | Refused:
    store = parse_truststore(b"".join(ca.cert_pem() for ca in cas))
    access = parse_policy(policy(rules), RULE)
    inputs = DecisionInputs(store, PathPolicy(), RULE, access, lambda path, now, store: RevocationOutcome())
    return decide(parse_event(event(cert.cert_pem())), inputs, NOW)


class TestRulesBindToCaKeys:
    """A rule selects CA certificates by what they say of themselves (an SKI is only a hint, RFC 5280 4.2.1.2; a
    name can repeat); it binds to the keys of the truststore CAs it selects, and selecting two keys is ambiguous."""

    ROOT_A, ROOT_B = root("Root A"), root("Root B")
    ISSUING_A = sub(ROOT_A, "Ops CA")
    OPS = "spiffe://example.org/operator/{user}/node/{node}"
    SVID = uri("spiffe://example.org/operator/alice/node/node-1")

    def rule(self, issuer: dict[str, str]) -> list[dict[str, Any]]:
        return [{"name": "a", "issuer": issuer, "uri": self.OPS}]

    def test_a_ca_claiming_anothers_ski_does_not_inherit_its_rule(self) -> None:
        ski = key_id(self.ISSUING_A.cert)
        issuing_b = certify(self.ROOT_B, name(O="B", CN="B Issuing"), ski)
        cas = [self.ROOT_A, self.ISSUING_A, self.ROOT_B, issuing_b]
        rules = self.rule({"subjectKeyIdentifier": ski.hex()})
        for issuing in (issuing_b, self.ISSUING_A):
            decision = decide_in(cas, rules, leaf(issuing, self.SVID))
            assert isinstance(decision, Refused), decision
            assert decision.reason == Reason.AMBIGUOUS_IDENTITY
            assert "selects 2 CA keys" in decision.detail
        assert isinstance(decide_in(cas[:2], rules, leaf(self.ISSUING_A, self.SVID)), Allowed)

    def test_a_ca_of_another_root_with_the_rules_name_does_not_inherit_it(self) -> None:
        ops = name(O="A", CN="Ops CA")
        issuing_a, issuing_b = certify(self.ROOT_A, ops, b"\xaa" * 20), certify(self.ROOT_B, ops, b"\xbb" * 20)
        rules = self.rule({"subject": ops.rfc4514_string()})
        cas = [self.ROOT_A, issuing_a, self.ROOT_B, issuing_b]
        for issuing in (issuing_b, issuing_a):
            decision = decide_in(cas, rules, leaf(issuing, self.SVID))
            assert isinstance(decision, Refused), decision
            assert decision.reason == Reason.AMBIGUOUS_IDENTITY
        assert isinstance(decide_in(cas[:2], rules, leaf(issuing_a, self.SVID)), Allowed)

    def test_a_cross_certified_key_keeps_its_rule_under_another_ski(self) -> None:
        """Root A is not in the store, so the only path runs through Root B's certificate of the same key."""
        cross = certify(self.ROOT_B, self.ISSUING_A.cert.subject, b"\x01" * 20, key=self.ISSUING_A)
        rules = self.rule({"subjectKeyIdentifier": key_id(self.ISSUING_A.cert).hex()})
        decision = decide_in([self.ISSUING_A, self.ROOT_B, cross], rules, leaf(self.ISSUING_A, self.SVID))
        assert isinstance(decision, Allowed), decision
        assert decision.path[1] == cross.cert
        assert decision.identity.rule == "a"

    def test_a_rule_selecting_no_truststore_ca_reads_nothing(self) -> None:
        rules = self.rule({"subjectKeyIdentifier": "ab" * 20})
        decision = decide_in([self.ROOT_A, self.ISSUING_A], rules, leaf(self.ISSUING_A, self.SVID))
        assert isinstance(decision, Refused)
        assert decision.reason == Reason.BAD_IDENTITY


BAD_RULES: dict[str, Any] = {
    "empty-list": [],
    "not-a-list": {"name": "x"},
    "no-kind": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}}],
    "two-kinds": [
        {"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE, "dns": "{user}.{node}.example.com"}
    ],
    "no-issuer": [{"name": "r", "uri": SPIFFE}],
    "upper-hex": [{"name": "r", "issuer": {"subjectKeyIdentifier": "AB"}, "uri": SPIFFE}],
    "odd-hex": [{"name": "r", "issuer": {"subjectKeyIdentifier": "abc"}, "uri": SPIFFE}],
    "escaped-name": [{"name": "r", "issuer": {"subject": "CN=a\\,b"}, "uri": SPIFFE}],
    "partial-placeholder": [
        {"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/u-{user}/{node}"}
    ],
    "regex-in-template": [
        {"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/.*/{user}/{node}"}
    ],
    "unknown-placeholder": [
        {"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/{td}/{user}/{node}"}
    ],
    "user-twice": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/{user}/{user}/{node}"}],
    "node-missing": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/{user}"}],
    "node-twice": [
        {
            "name": "r",
            "issuer": {"subjectKeyIdentifier": "ab"},
            "uri": "spiffe://td/{user}/{node}",
            "node": {"subject": "CN"},
        }
    ],
    "uppercase-host": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://TD/{user}/{node}"}],
    "port": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td:1/{user}/{node}"}],
    "query": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/{user}/{node}?x"}],
    "dot-segment": [{"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": "spiffe://td/../{user}/{node}"}],
    "second-uri": [
        {
            "name": "r",
            "issuer": {"subjectKeyIdentifier": "ab"},
            "uri": "spiffe://td/{user}",
            "node": {"uri": "spiffe://td/n/{node}"},
        }
    ],
    "bad-attribute": [
        {"name": "r", "issuer": {"subjectKeyIdentifier": "ab"}, "subject": {"user": "2.5.4.3", "node": "CN"}}
    ],
    "duplicate-issuer": [
        {"name": "a", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE},
        {"name": "b", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE},
    ],
    "duplicate-name": [
        {"name": "a", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE},
        {"name": "a", "issuer": {"subjectKeyIdentifier": "cd"}, "uri": SPIFFE},
    ],
    "bad-name": [{"name": "a b", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE}],
    "unknown-key": [{"name": "a", "issuer": {"subjectKeyIdentifier": "ab"}, "uri": SPIFFE, "regex": ".*"}],
}


@pytest.mark.parametrize("rules", BAD_RULES.values(), ids=BAD_RULES.keys())
def test_an_invalid_rule_refuses_the_whole_policy(rules: Any) -> None:
    with pytest.raises(PolicyError):
        parse_policy(policy(rules), RULE)


SPIFFE_IDS = {
    # SPIFFE-ID 2 and 2.2: scheme spiffe, trust domain, path of segments [a-zA-Z0-9.-_], none empty, "." or "..",
    # no trailing "/", no percent-encoding, query, fragment, port or userinfo.
    "spiffe://example.org/operator/alice/node/node-1": True,
    "spiffe://example.org/operator/a.b_c-D/node/node-1": True,
    "spiffe://example.org/operator/alice/node/node-1/": False,
    "spiffe://example.org/operator/alice/node/node-1?": False,
    "spiffe://example.org/operator/alice/node/node-1#": False,
    "spiffe://example.org/operator/..//node/node-1": False,
    "spiffe://example.org/operator/.../node/node-1": False,
    "spiffe://example.org:8080/operator/alice/node/node-1": False,
    "spiffe://user:pw@example.org/operator/alice/node/node-1": False,
    "spiffe://example.org/operator/%41lice/node/node-1": False,
    "spiffe:///operator/alice/node/node-1": False,
    "spiffe:example.org/operator/alice/node/node-1": False,
    "Spiffe://example.org/operator/alice/node/node-1": False,
}


@pytest.mark.parametrize(("value", "valid"), SPIFFE_IDS.items())
def test_spiffe_id_corpus(value: str, valid: bool) -> None:
    """A spec-derived corpus through the whole decision."""
    assert isinstance(run(leaf(SPIRE, uri(value))), Allowed) is valid


ALPHABET = st.sampled_from([*list("aZ09._-/%@:?#[]{}$ \t\r\n\x00\u00e9\u0130\u212a\ufeff"), "..", "%2F", "xn--"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["uri", "email", "dns"]),
    user=st.one_of(
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,70}", fullmatch=True), st.lists(ALPHABET, max_size=12).map("".join)
    ),
    node=st.sampled_from(["node-1", "node-1", "node 1", "n%31"]),
)
def test_fuzzed_san_values_never_reach_the_arn_or_context_unless_they_fit(kind: str, user: str, node: str) -> None:
    """The fuzzed part is the user id (URI path segment, email local part) or, for DNS, the node label."""
    try:
        if kind == "uri":
            cert = leaf(SPIRE, uri(f"spiffe://example.org/operator/{user}/node/{node}"))
        elif kind == "email":
            cert = leaf(MAIL, x509.RFC822Name(f"{user}@example.com"), subject=name(CN=node))
        else:
            user, node = "alice", user
            cert = leaf(DNS, x509.DNSName(f"{node}.nodes.example.com"), subject=name(UID=user))
    except ValueError:  # cryptography will not encode it: no certificate can carry it
        return
    fits = all(SAFE_ID.fullmatch(v) and RULE.pattern.fullmatch(v) for v in (user, node)) and node == "node-1"
    value = f"{kind}: {user!r} {node!r}"
    decision = run(cert, "node-1")
    assert isinstance(decision, Allowed) is fits, (value, decision)
    response = respond(decision, parse_event(event(cert.cert_pem())))
    statements = response["policyDocument"]["Statement"]
    if not fits:
        assert isinstance(decision, Refused)
        assert response["context"] == {"reason": decision.reason.value}
        assert response["principalId"] == "anonymous"
        assert [s["Effect"] for s in statements] == ["Deny"]
    else:
        resources = [r for s in statements for r in s["Resource"]]
        assert all(r.endswith(("/nodes/node-1", "/nodes/node-1/*")) for r in resources)
        assert (response["principalId"], response["context"]["userId"]) == (user, user)


def test_template_match_costs_a_split_and_a_few_compares() -> None:
    template = Template("uri", SPIFFE, tuple(SPIFFE.split("/")))
    assert template.match("spiffe://example.org/operator/alice/node/node-1") == {"{user}": "alice", "{node}": "node-1"}
    assert template.match("spiffe://example.org/operator/alice/node") is None
    email = Template("email", "{user}@example.com", ("{user}", "example.com"))
    assert email.match("alice@bob@example.com") is None  # cryptography will not build it; a CA might


def test_subject_attribute_kinds_are_the_settings_names() -> None:
    rules = [
        {"name": "ou", "issuer": {"subjectKeyIdentifier": hexkey(LEGACY)}, "subject": {"user": "OU", "node": "CN"}}
    ]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "carol"),
            x509.NameAttribute(NameOID.COMMON_NAME, "node-1"),
        ]
    )
    decision = run(leaf(LEGACY, subject=subject), document=policy(rules))
    assert isinstance(decision, Allowed)
    assert decision.identity.user_id == "carol"


def test_the_runtime_handler_and_explain_show_the_rule(tmp_path: Path) -> None:
    """Through the real adapters: the policy file loaded by the runtime, the handler's context, explain's report."""
    (tmp_path / "truststore.pem").write_bytes(b"".join(ca.cert_pem() for ca in (TOP, SPIRE, MAIL)))
    (tmp_path / "policy.json").write_bytes(policy(RULES[:2]))
    runtime = build_runtime(
        load_settings(
            {
                "TRUSTSTORE_URI": (tmp_path / "truststore.pem").as_uri(),
                "ACCESS_POLICY_URI": (tmp_path / "policy.json").as_uri(),
                "REVOCATION_MODE": "off",
            }
        )
    )
    cert = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"))
    response = make_handler(runtime, lambda: NOW)(event(cert.cert_pem()))
    assert (response["principalId"], response["context"]["identityRule"]) == ("alice", "spire")
    report = explain(event(cert.cert_pem()), lambda: runtime, NOW)
    assert report["identity"]["rule"] == "spire"
    assert "by identity rule spire" in render(report)
    stray = leaf(SPIRE, uri("spiffe://example.org/operator/alice/node/node-1"), uri("spiffe://example.org/x/y"))
    assert make_handler(runtime, lambda: NOW)(event(stray.cert_pem()))["context"] == {"reason": "AMBIGUOUS_IDENTITY"}
    (tmp_path / "policy.json").write_bytes(policy([{"name": "bad", "issuer": {"subject": "CN=x"}, "uri": "x"}]))
    reloaded = build_runtime(runtime.settings)
    assert make_handler(reloaded, lambda: NOW)(event(cert.cert_pem()))["context"] == {"reason": "POLICY_UNAVAILABLE"}
