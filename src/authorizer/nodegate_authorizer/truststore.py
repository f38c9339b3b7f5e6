"""The truststore: trust anchors, intermediates and CRL signers parsed from a PEM bundle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple, TypeVar

from cryptography import x509

from .certificates import ca_problem, extension, is_ca, issued_by, key_weakness, load_certificate, pem_blocks
from .names import CanonicalName, canonical, is_self_issued

MAX_MEMO = 4096
_MISSING = object()
T = TypeVar("T")


class TruststoreError(ValueError):
    """The bundle is unreadable or holds no usable trust anchor."""


class SkippedEntry(NamedTuple):
    """A bundle entry left out: its number (from 1), its subject (RFC 4514; empty when it does not parse) and
    the rule it breaks. ``str()`` is the line the authorizer logs."""

    number: int
    subject: str
    rule: str

    def __str__(self) -> str:
        return f"entry {self.number}: {self.subject + ': ' if self.subject else ''}{self.rule}"


class Truststore:
    """CA certificates indexed by subject (RFC 5280 7.1 form); self-signed ones are anchors.

    ``crl_signers`` are non-CA certificates whose key usage is cRLSign: they may sign CRLs, never certificates.
    ``skipped`` says which bundle entries were left out and why (API Gateway, too, ignores unusable entries).
    ``memo`` keeps results that depend only on certificates (signature links, path structure) for this
    truststore: a truststore is equal only to itself."""

    __slots__ = ("anchors", "by_subject", "crl_signers", "memo", "skipped_entries")

    def __init__(
        self,
        anchors: frozenset[x509.Certificate],
        by_subject: Mapping[CanonicalName, tuple[x509.Certificate, ...]],
        crl_signers: Mapping[CanonicalName, tuple[x509.Certificate, ...]],
        skipped_entries: tuple[SkippedEntry, ...],
    ) -> None:
        self.anchors = anchors
        self.by_subject = by_subject
        self.crl_signers = crl_signers
        self.skipped_entries = skipped_entries
        self.memo: dict[Hashable, Any] = {}

    @property
    def skipped(self) -> tuple[str, ...]:
        """One line per skipped entry: number, subject and rule."""
        return tuple(str(entry) for entry in self.skipped_entries)

    def issuers_of(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        """Every CA whose subject matches ``cert``'s issuer name (signatures are not checked here)."""
        return self.by_subject.get(canonical(cert.issuer), ())

    def named(self, name: x509.Name) -> tuple[x509.Certificate, ...]:
        """Every CA or CRL signer whose subject matches ``name``."""
        key = canonical(name)
        return self.by_subject.get(key, ()) + self.crl_signers.get(key, ())

    def is_anchor(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` is one of the self-signed anchors of this store."""
        return cert in self.anchors

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, memoised (bounded) for the life of this truststore; only for time-independent facts."""
        value = self.memo.get(key, _MISSING)
        if value is _MISSING:
            if len(self.memo) > MAX_MEMO:
                self.memo.clear()
            value = self.memo[key] = compute()
        return value  # type: ignore[no-any-return]

    def signed(self, child: x509.Certificate, issuer: x509.Certificate) -> bool:
        """``issued_by(child, issuer)``, memoised: a signature link never changes."""
        return self.remember(("signed", child, issuer), lambda: issued_by(child, issuer))


def _is_crl_signer(cert: x509.Certificate) -> bool:
    usage = extension(cert, x509.KeyUsage)
    return usage is not None and usage.crl_sign


def anchor_problem(cert: x509.Certificate) -> str | None:
    """Why a self-signed CA cannot be a trust anchor, or None. Nothing above an anchor checks it, so it must pass
    the CA profile an intermediate must (``ca_problem``), keep basicConstraints critical (RFC 5280 4.2.1.9) and
    hold a strong key. Its self-signature is not judged: an anchor is trusted for its name and key (6.1.1 (d))."""
    problem = ca_problem(cert)
    if problem:
        return f"anchor {problem[1]}"
    if not cert.extensions.get_extension_for_class(x509.BasicConstraints).critical:
        return "anchor basicConstraints is not critical (RFC 5280 4.2.1.9: MUST be in a CA certificate)"
    weakness = key_weakness(cert.public_key())
    return f"anchor key: {weakness}" if weakness else None


def parse_truststore(data: bytes) -> Truststore:
    """Parse a PEM bundle. Entries that do not parse, are neither CAs nor CRL signers, or are self-signed CAs
    unfit to be anchors are skipped (and named in ``skipped``); at least one anchor must remain."""
    blocks = pem_blocks(data)
    if not blocks:
        raise TruststoreError("truststore holds no PEM certificate block")
    store = _read(blocks)
    if not store.anchors:
        raise TruststoreError(f"truststore holds {len(blocks)} certificate(s) but no usable self-signed CA")
    return store


def skipped_entries(data: bytes) -> tuple[SkippedEntry, ...]:
    """Which entries of a PEM bundle the authorizer would leave out, and why (empty when it uses them all).
    For ``publish-truststore --check-only``; never raises."""
    return _read(pem_blocks(data)).skipped_entries


def _read(blocks: list[bytes]) -> Truststore:
    """Sort the blocks into anchors, intermediates, CRL signers and skipped entries (anchors may be none)."""
    by_subject: dict[CanonicalName, list[x509.Certificate]] = defaultdict(list)
    signers: dict[CanonicalName, list[x509.Certificate]] = defaultdict(list)
    anchors: set[x509.Certificate] = set()
    seen: set[x509.Certificate] = set()
    skipped: list[SkippedEntry] = []
    for number, block in enumerate(blocks, start=1):
        try:
            cert = load_certificate(block)
        except ValueError as exc:
            skipped.append(SkippedEntry(number, "", f"does not parse: {str(exc)[:200]}"))
            continue
        if cert in seen:
            continue
        seen.add(cert)
        subject = cert.subject.rfc4514_string()[:200]
        if not is_ca(cert):
            if _is_crl_signer(cert):
                signers[canonical(cert.subject)].append(cert)
            else:
                skipped.append(SkippedEntry(number, subject, "is not a CA"))
            continue
        anchor = is_self_issued(cert) and issued_by(cert, cert)
        problem = anchor_problem(cert) if anchor else None
        if problem:
            skipped.append(SkippedEntry(number, subject, problem))
            continue
        by_subject[canonical(cert.subject)].append(cert)
        if anchor:
            anchors.add(cert)
    return Truststore(
        anchors=frozenset(anchors),
        by_subject={key: tuple(value) for key, value in by_subject.items()},
        crl_signers={key: tuple(value) for key, value in signers.items()},
        skipped_entries=tuple(skipped),
    )
