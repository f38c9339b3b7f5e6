"""Identity rules (the access policy's ``identityRules``): where the user and node ids come from, per issuing CA.

A rule reads the subject, a URI SAN, an email SAN or a DNS SAN. A SAN template is literal text and whole-part
placeholders ``{user}`` and ``{node}`` (a URI path segment, the email local part, a DNS label); there is no
regular expression in a policy. Templates are split into tokens when the policy loads, so a decision splits one
string and compares a few tokens. A rule binds to CA public keys: its issuer selector (a subject key identifier or
a name, which a CA certificate only claims) is resolved against the truststore's CAs once per truststore and
policy, and the issuing CA of the validated path is matched by its key, never by anything the leaf claims.
Docs: README *Identity rules*, docs/decisions.md 10, docs/access-policy.schema.json."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography import x509

from .certificates import extension, is_ca, key_digest
from .identity import ATTRIBUTE_OIDS, Identity, IdentityRule, subject_id, valid_id
from .names import CanonicalName, canonical
from .reasons import Denied, Reason
from .truststore import Truststore

USER, NODE = "{user}", "{node}"
ROLES = {USER: "user", NODE: "node"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?){0,16}"
_PART = r"(?:\{user\}|\{node\}|[A-Za-z0-9_-][A-Za-z0-9._-]{0,62})"
_LABEL = r"(?:\{user\}|\{node\}|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
TEMPLATES = {
    "uri": (re.compile(rf"[a-z][a-z0-9+.-]{{0,15}}://{_HOST}(?:/{_PART}){{1,16}}"), "/"),
    "email": (re.compile(rf"{_PART}@{_HOST}"), "@"),
    "dns": (re.compile(rf"{_LABEL}(?:\.{_LABEL}){{1,16}}"), "."),
}
"""Template grammar and separator per SAN kind; docs/access-policy.schema.json carries the same patterns."""
SAN_TYPES: dict[str, type[x509.UniformResourceIdentifier | x509.RFC822Name | x509.DNSName]] = {
    "uri": x509.UniformResourceIdentifier,
    "email": x509.RFC822Name,
    "dns": x509.DNSName,
}
_PAIR = r"(?:CN|O|OU|L|DC|UID)=[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?"
SUBJECT = re.compile(rf"{_PAIR}(?:,{_PAIR}){{0,15}}")
"""An issuer name: RFC 4514 pairs without escapes, multi-valued RDNs or trailing spaces."""
KEY_ID = re.compile(r"(?:[0-9a-f]{2}){1,64}")


class RuleError(ValueError):
    """An identity rule is not valid (the whole policy is refused)."""


class Template(NamedTuple):
    """A SAN template split at its separator: literal tokens and placeholders, matched token by token."""

    kind: str
    text: str
    tokens: tuple[str, ...]

    @property
    def spiffe(self) -> bool:
        """True for a SPIFFE ID template: the X.509-SVID rules apply."""
        return self.kind == "uri" and self.text.startswith("spiffe://")

    def match(self, value: str) -> dict[str, str] | None:
        """The placeholder values when ``value`` has this template's shape and literals, else None."""
        parts = value.split(TEMPLATES[self.kind][1])
        if len(parts) != len(self.tokens):
            return None
        found: dict[str, str] = {}
        for token, part in zip(self.tokens, parts, strict=True):
            if token in ROLES:
                found[token] = part
            elif token != part:
                return None
        return found


class Rule(NamedTuple):
    """One compiled identity rule: its SAN templates (at most one per kind) and subject attributes by role."""

    name: str
    templates: tuple[Template, ...]
    subject: tuple[tuple[str, str], ...]
    """(role, attribute) read from the subject, e.g. (("user", "UID"), ("node", "CN"))."""

    @property
    def spiffe(self) -> bool:
        """True when one of the templates is a SPIFFE ID."""
        return any(template.spiffe for template in self.templates)


class IdentityRules:
    """The rules of a policy, keyed by their issuer selector: subject key identifier (bytes) or canonical subject
    name. Equal and hashed by identity: a truststore remembers its key bindings per rules object."""

    __slots__ = ("by_key_id", "by_subject")

    def __init__(self, by_key_id: Mapping[bytes, Rule], by_subject: Mapping[CanonicalName, Rule]) -> None:
        self.by_key_id = by_key_id
        self.by_subject = by_subject


def _template(kind: str, text: object, where: str) -> Template:
    grammar, separator = TEMPLATES[kind]
    if not isinstance(text, str) or not grammar.fullmatch(text):
        raise RuleError(f"{where}: {kind} template {str(text)[:80]!r} is not literal parts and whole {{user}}/{{node}}")
    return Template(kind, text, tuple(text.split(separator)))


def _placeholders(template: Template) -> list[str]:
    return [token for token in template.tokens if token in ROLES]


def _issuer(raw: object, where: str) -> tuple[str, bytes | CanonicalName]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise RuleError(f'{where}: issuer must be {{"subjectKeyIdentifier": hex}} or {{"subject": name}}')
    ((key, value),) = raw.items()
    if key == "subjectKeyIdentifier" and isinstance(value, str) and KEY_ID.fullmatch(value):
        return key, bytes.fromhex(value)
    if key == "subject" and isinstance(value, str) and SUBJECT.fullmatch(value):
        try:
            return key, canonical(x509.Name.from_rfc4514_string(value))
        except ValueError:
            pass
    raise RuleError(f"{where}: issuer {key} {str(value)[:80]!r} is not lower-case hex or a plain RFC 4514 name")


def _attribute(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in ATTRIBUTE_OIDS:
        raise RuleError(f"{where}: subject attribute must be one of {sorted(ATTRIBUTE_OIDS)}")
    return value


def _rule(raw: object, number: int) -> tuple[Rule, tuple[str, bytes | CanonicalName]]:
    """Compile one rule; raise RuleError naming what is wrong."""
    where = f"identity rule {number}"
    if not isinstance(raw, dict):
        raise RuleError(f"{where} must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise RuleError(f"{where}: name must match {NAME.pattern}")
    where = f"identity rule {name!r}"
    kinds = [kind for kind in ("subject", *TEMPLATES) if kind in raw]
    if len(kinds) != 1:
        raise RuleError(f"{where}: needs exactly one of subject, uri, email, dns")
    kind = kinds[0]
    allowed = {"name", "issuer", kind} | ({"user", "node"} if kind != "subject" else set())
    if set(raw) - allowed:
        raise RuleError(f"{where}: unknown keys {sorted(set(raw) - allowed)}")
    issuer = _issuer(raw.get("issuer"), where)
    if kind == "subject":
        attributes = raw["subject"]
        if not isinstance(attributes, dict) or set(attributes) != {"user", "node"}:
            raise RuleError(f'{where}: subject must be {{"user": attribute, "node": attribute}}')
        subject = (("user", _attribute(attributes["user"], where)), ("node", _attribute(attributes["node"], where)))
        return Rule(name, (), subject), issuer
    primary = _template(kind, raw[kind], where)
    templates, attributes_read = [primary], []
    used = _placeholders(primary)
    if not used or len(used) != len(set(used)):
        raise RuleError(f"{where}: the {kind} template must hold {{user}}, {{node}} or both, each once")
    for placeholder, role in ROLES.items():
        if (role in raw) == (placeholder in used):
            raise RuleError(f"{where}: {{{role}}} must come from the {kind} template or from {role!r}, exactly once")
        if role not in raw:
            continue
        source = raw[role]
        if not isinstance(source, dict) or len(source) != 1 or not {"subject", "uri"} >= set(source):
            raise RuleError(f'{where}: {role} must be {{"subject": attribute}} or {{"uri": template}}')
        if "subject" in source:
            attributes_read.append((role, _attribute(source["subject"], where)))
            continue
        if kind == "uri":
            raise RuleError(f"{where}: {role} cannot come from a second URI template")
        extra = _template("uri", source["uri"], where)
        if _placeholders(extra) != [placeholder]:
            raise RuleError(f"{where}: the {role} URI template must hold {placeholder} once and nothing else")
        templates.append(extra)
    return Rule(name, tuple(templates), tuple(attributes_read)), issuer


def parse_rules(raw: object) -> IdentityRules:
    """Compile ``identityRules``: a non-empty list, names unique, at most one rule per issuer key or name."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= 64:
        raise RuleError("identityRules must be a list of 1 to 64 rules")
    names: set[str] = set()
    by_key_id: dict[bytes, Rule] = {}
    by_subject: dict[CanonicalName, Rule] = {}
    for number, item in enumerate(raw):
        rule, (selector, key) = _rule(item, number)
        table: dict[Any, Rule] = by_key_id if selector == "subjectKeyIdentifier" else by_subject
        if rule.name in names or key in table:
            raise RuleError(f"identity rule {rule.name!r}: its name or its issuer is already taken by another rule")
        names.add(rule.name)
        table[key] = rule
    return IdentityRules(by_key_id, by_subject)


def key_id(ca: x509.Certificate) -> bytes:
    """The CA's subjectKeyIdentifier, or the RFC 5280 4.2.1.2 method (1) digest of its key when it has none."""
    ski = extension(ca, x509.SubjectKeyIdentifier)
    return ski.digest if ski is not None else x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest


def _selected(rules: IdentityRules, store: Truststore) -> list[tuple[Rule, list[x509.Certificate]]]:
    """Each rule with the truststore CAs its issuer selector names."""
    cas = [ca for group in store.by_subject.values() for ca in group]
    selected = [(rule, [ca for ca in cas if key_id(ca) == ski]) for ski, rule in rules.by_key_id.items()]
    return selected + [(rule, list(store.by_subject.get(name, ()))) for name, rule in rules.by_subject.items()]


def binding_problems(rules: IdentityRules, store: Truststore) -> list[str]:
    """Why some clients of ``store`` would get no identity under ``rules``: a rule that selects no CA (BAD_IDENTITY
    for its clients), and each ambiguous binding (AMBIGUOUS_IDENTITY); empty when every rule binds one CA key."""
    selected = _selected(rules, store)
    empty = [f"rule {rule.name!r} selects no CA in the truststore" for rule, matched in selected if not matched]
    return empty + sorted({found for found in bind(rules, store).values() if isinstance(found, str)})


def bind(rules: IdentityRules, store: Truststore) -> Mapping[bytes, Rule | str]:
    """Each CA public key (``key_digest``) the rules select among the truststore's CAs: its one rule, or why it
    has none (two rules select it, or its rule selects two keys). The selectors are what CA certificates say of
    themselves (an SKI is only a hint, RFC 5280 4.2.1.2; names repeat across PKIs), so a rule selecting two keys
    is ambiguous for all of them; a key certified again under another SKI keeps its rule."""
    rules_of: dict[bytes, list[Rule]] = defaultdict(list)
    problems: dict[str, str] = {}
    for rule, matched in _selected(rules, store):
        keys = {key_digest(ca): ca for ca in matched}
        for key in keys:
            rules_of[key].append(rule)
        if len(keys) > 1:
            subjects = ", ".join(repr(ca.subject.rfc4514_string()) for ca in keys.values())
            problems[rule.name] = f"rule {rule.name!r} selects {len(keys)} CA keys in the truststore ({subjects})"
    bound: dict[bytes, Rule | str] = {}
    for key, found in rules_of.items():
        if len(found) > 1:
            bound[key] = f"rules {' and '.join(repr(rule.name) for rule in found)} select the same CA key"
        else:
            bound[key] = problems.get(found[0].name, found[0])
    return bound


def rule_for(issuer: x509.Certificate, rules: IdentityRules, store: Truststore) -> Rule:
    """The one rule bound to the public key of the issuing CA (a truststore certificate of the validated path);
    Deny when none or when the binding is ambiguous."""
    bound = store.remember(("identity-rules", rules), lambda: bind(rules, store))
    found = bound.get(store.remember(("key-digest", issuer), lambda: key_digest(issuer)))
    if found is None:
        raise Denied(Reason.BAD_IDENTITY, f"no identity rule for the issuing CA {issuer.subject.rfc4514_string()!r}")
    if isinstance(found, str):
        raise Denied(Reason.AMBIGUOUS_IDENTITY, found)
    return found


def _sans(leaf: x509.Certificate) -> x509.SubjectAlternativeName | None:
    return extension(leaf, x509.SubjectAlternativeName)


def _svid_problem(leaf: x509.Certificate) -> str | None:
    """SPIFFE X509-SVID 4.1 and 4.3 for a leaf: cA false; keyUsage with digitalSignature, never keyCertSign or
    cRLSign (exactly one URI SAN, 2 and 5.2, follows from the template match)."""
    if is_ca(leaf):
        return "leaf is a CA (X509-SVID 4.1)"
    usage = extension(leaf, x509.KeyUsage)
    if usage is None or not usage.digital_signature:
        return "leaf keyUsage lacks digitalSignature (X509-SVID 4.3)"
    if usage.key_cert_sign or usage.crl_sign:
        return "leaf keyUsage has keyCertSign or cRLSign (X509-SVID 4.3)"
    return None


def _from_template(template: Template, sans: x509.SubjectAlternativeName | None, rule: Rule) -> dict[str, str]:
    """The placeholder values of the one SAN of the template's kind; Deny when none, two, or one that differs."""
    values: list[str] = sans.get_values_for_type(SAN_TYPES[template.kind]) if sans is not None else []
    if not values:
        raise Denied(Reason.AMBIGUOUS_IDENTITY, f"rule {rule.name}: no {template.kind} SAN for {template.text}")
    matches = [found for value in values if (found := template.match(value)) is not None]
    if len(matches) != len(values):
        stray = next(value for value in values if template.match(value) is None)
        raise Denied(
            Reason.AMBIGUOUS_IDENTITY, f"rule {rule.name}: {template.kind} SAN {stray[:120]!r} matches no rule"
        )
    if len(matches) > 1:
        raise Denied(Reason.AMBIGUOUS_IDENTITY, f"rule {rule.name}: {len(matches)} {template.kind} SANs match")
    if template.kind == "dns" and values[0] != values[0].lower():
        raise Denied(Reason.BAD_IDENTITY, f"rule {rule.name}: DNS SAN {values[0][:120]!r} is not lower case")
    return matches[0]


def identify(
    leaf: x509.Certificate, issuer: x509.Certificate, rules: IdentityRules, id_rule: IdentityRule, store: Truststore
) -> Identity:
    """The identity under the issuing CA's rule; raise Denied (BAD_IDENTITY, AMBIGUOUS_IDENTITY, WRONG_KEY_USAGE)."""
    rule = rule_for(issuer, rules, store)
    if rule.spiffe:
        problem = _svid_problem(leaf)
        if problem:
            raise Denied(Reason.WRONG_KEY_USAGE, f"rule {rule.name}: not an X.509-SVID: {problem}")
    ids: dict[str, str] = {}
    sans = _sans(leaf) if rule.templates else None
    for template in rule.templates:
        for placeholder, value in _from_template(template, sans, rule).items():
            if not valid_id(value, id_rule):
                raise Denied(
                    Reason.BAD_IDENTITY,
                    f"rule {rule.name}: {ROLES[placeholder]} id {value[:120]!r} "
                    f"in {template.kind} SAN does not match the id pattern",
                )
            ids[ROLES[placeholder]] = value
    for role, attribute in rule.subject:
        ids[role] = subject_id(leaf.subject, attribute, id_rule, role)
    try:
        subject = leaf.subject.rfc4514_string()
    except ValueError as exc:
        raise Denied(Reason.BAD_IDENTITY, f"subject cannot be rendered: {exc}") from None
    return Identity(user_id=ids["user"], node_id=ids["node"], subject=subject, rule=rule.name)
