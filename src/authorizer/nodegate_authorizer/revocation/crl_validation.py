"""CRL processing (RFC 5280 6.3.3), pure: which CRLs cover a certificate, and what they say about it.

Distribution point and issuingDistributionPoint matching, reason masks, indirect CRLs and delta CRLs are
handled here; the signature and the CRL issuer's own path are checked by the ``signer_problem`` callable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from cryptography import x509

from ..certificates import extension, is_ca
from ..names import canonical
from .crl import CrlIndex, Entry
from .revoked import EntryError

ALL_REASONS = frozenset(
    {
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.ca_compromise,
        x509.ReasonFlags.affiliation_changed,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
        x509.ReasonFlags.certificate_hold,
        x509.ReasonFlags.privilege_withdrawn,
        x509.ReasonFlags.aa_compromise,
    }
)
SignerProblem = Callable[[CrlIndex], str | None]
"""Check a CRL's signature and its issuer's path; return why it fails, or None."""


class CrlVerdict(NamedTuple):
    """``revoked`` (an entry), ``good`` (every reason covered and not listed) or neither (undetermined)."""

    revoked: Entry | None = None
    good: bool = False
    used: tuple[CrlIndex, ...] = ()
    problems: tuple[str, ...] = ()


def _names(names: Sequence[x509.GeneralName] | None) -> set[object]:
    return {
        canonical(n.value) if isinstance(n, x509.DirectoryName) else (type(n).__name__, n.value) for n in names or ()
    }


def _dp_names(
    full: Sequence[x509.GeneralName] | None, relative: x509.RelativeDistinguishedName | None, base: x509.Name
) -> set[object]:
    """A distribution point's names; a relative name is appended to ``base`` (RFC 5280 4.2.1.13)."""
    if relative is not None:
        return {canonical(x509.Name([*base.rdns, relative]))}
    return _names(full)


def _crl_issuers(point: x509.DistributionPoint | None) -> list[x509.Name]:
    if point is None or not point.crl_issuer:
        return []
    return [n.value for n in point.crl_issuer if isinstance(n, x509.DirectoryName)]


def scope_problem(index: CrlIndex, cert: x509.Certificate, point: x509.DistributionPoint | None) -> str | None:
    """6.3.3 (b): why ``index`` does not cover ``cert`` through distribution point ``point``, or None."""
    idp = index.idp
    indirect_issuers = _crl_issuers(point)
    if indirect_issuers:
        if index.issuer not in {canonical(name) for name in indirect_issuers}:
            return "CRL issuer is not the distribution point's cRLIssuer"
        if index.issuer != canonical(cert.issuer) and not (idp and idp.indirect_crl):
            return "CRL from another issuer is not marked indirect"
    elif index.issuer != canonical(cert.issuer):
        return "CRL issuer is not the certificate issuer"
    if idp is None:
        return None
    if idp.full_name or idp.relative_name:
        idp_names = _dp_names(idp.full_name, idp.relative_name, index.issuer_name)
        if point is not None and (point.full_name or point.relative_name):
            base = indirect_issuers[0] if indirect_issuers else cert.issuer
            point_names = _dp_names(point.full_name, point.relative_name, base)
        else:
            point_names = {canonical(name) for name in indirect_issuers}
        if not idp_names & point_names:
            return "CRL distribution point does not match the certificate's"
    if idp.only_contains_user_certs and is_ca(cert):
        return "CRL covers end-entity certificates only"
    if idp.only_contains_ca_certs and not is_ca(cert):
        return "CRL covers CA certificates only"
    return None


def _reasons(value: frozenset[x509.ReasonFlags] | None) -> frozenset[x509.ReasonFlags]:
    return frozenset(value) & ALL_REASONS if value else ALL_REASONS


def _delta(
    complete: CrlIndex,
    deltas: Sequence[CrlIndex],
    cert: x509.Certificate,
    point: x509.DistributionPoint | None,
    problem_of: Callable[[CrlIndex], str | None],
) -> tuple[CrlIndex | None, str | None]:
    """(the delta CRL to combine with ``complete``, or None; why the pair cannot answer, or None).

    RFC 5280 5.2.4, 6.3.3 (a)(2): among deltas of the same issuer and issuingDistributionPoint, in scope, whose
    cRLNumber is at or above the complete CRL's (a complete and a delta CRL issued together share one number,
    5.2.3), the newest by number is the one; older (superseded) deltas are
    ignored. It answers only when usable (current, signed) and built on a base the complete CRL satisfies
    (complete number >= BaseCRLNumber); otherwise the pair is unanswered."""
    if complete.number is None:
        return None, None
    newer = [
        (delta.number, delta)
        for delta in deltas
        if delta.issuer == complete.issuer
        and delta.idp == complete.idp
        and delta.number is not None
        and delta.number >= complete.number
        and scope_problem(delta, cert, point) is None
    ]
    if not newer:
        return None, None
    newest = max(newer, key=lambda pair: pair[0])[1]
    problem = problem_of(newest)
    if problem:
        return None, f"delta CRL #{newest.number}: {problem}"
    if newest.delta_base is None or newest.delta_base > complete.number:
        return None, f"delta CRL #{newest.number} is built on a complete CRL newer than #{complete.number}"
    return newest, None


def _superseded(complete: CrlIndex, completes: Sequence[CrlIndex]) -> bool:
    """A complete CRL of the same issuer and issuingDistributionPoint has a higher cRLNumber (RFC 5280 5.2.3)."""
    return any(
        other.issuer == complete.issuer
        and other.idp == complete.idp
        and other.number is not None
        and complete.number is not None
        and other.number > complete.number
        for other in completes
    )


def _entry(index: CrlIndex, cert: x509.Certificate) -> Entry | None:
    """The CRL's entry for ``cert``; raise EntryError when that entry cannot be read."""
    return index.revoked.get(canonical(cert.issuer), cert.serial_number)


def _status(complete: CrlIndex, delta: CrlIndex | None, cert: x509.Certificate, advertised: bool) -> Entry | None:
    """The revocation entry (or None) from a complete CRL and the delta combined with it (RFC 5280 5.2.4,
    6.3.3 (i)): the delta's entry wins, and removeFromCRL takes the certificate off. A delta that neither the
    certificate nor the complete CRL advertises may add revocations but not take one off (6.3.3 (a)(2) uses
    deltas only when advertised; nodegate never lets an unadvertised one allow more than the complete CRL). A delta
    issued together with its complete CRL (the same cRLNumber, 5.2.3) may add revocations but not take off one
    the complete CRL lists: the two describe the same moment."""
    listed = _entry(delta, cert) if delta is not None else None
    if listed is None or (listed.reason is x509.ReasonFlags.remove_from_crl and not advertised):
        listed = _entry(complete, cert)
    return None if listed is None or listed.reason is x509.ReasonFlags.remove_from_crl else listed


def crl_status(
    cert: x509.Certificate,
    crls: Sequence[CrlIndex],
    now: datetime,
    skew: timedelta,
    signer_problem: SignerProblem,
) -> CrlVerdict:
    """Run 6.3.3 over every distribution point of ``cert`` and every candidate CRL (complete and delta).

    Unlike 6.3.3, which stops once the CRLs read so far cover every reason, every usable CRL in scope is
    read: a revocation on any of them refuses (two CRLs of one issuer that disagree are not resolved in
    favour of the one read first). When the certificate or the complete CRL advertises a delta CRL
    (freshestCRL, RFC 5280 4.2.1.15, 5.2.6), the complete CRL answers only together with a usable delta. A
    complete CRL superseded by a higher-numbered one of its scope (same issuer and issuingDistributionPoint,
    5.2.3) may still refuse, never vouch: only the current CRL covers reasons, so an old pair (complete and
    the delta built on it) cannot answer "good" where the current CRL cannot."""
    cdp = extension(cert, x509.CRLDistributionPoints)
    points: list[x509.DistributionPoint | None] = list(cdp) if cdp else [None]
    completes = [c for c in crls if c.delta_base is None]
    deltas = [c for c in crls if c.delta_base is not None]
    advertised = extension(cert, x509.FreshestCRL) is not None
    mask: frozenset[x509.ReasonFlags] = frozenset()
    used: list[CrlIndex] = []
    problems: list[str] = []

    def problem_of(index: CrlIndex) -> str | None:
        return index.usable_problem(now, skew) or signer_problem(index)

    for point in points:
        for complete in completes:
            if scope_problem(complete, cert, point):
                continue
            interim = _reasons(complete.idp.only_some_reasons if complete.idp else None) & _reasons(
                point.reasons if point else None
            )
            problem = problem_of(complete)
            delta, problem = (None, problem) if problem else _delta(complete, deltas, cert, point, problem_of)
            wanted = advertised or complete.freshest is not None
            if problem is None and delta is None and wanted:
                problem = "a delta CRL is advertised (freshestCRL) but none usable combines with the complete CRL"
            if problem:
                problems.append(problem)
                continue
            try:
                later = delta is not None and (delta.number or 0) > (complete.number or 0)
                revoked = _status(complete, delta, cert, wanted and later)
            except EntryError as exc:
                problems.append(str(exc))
                continue
            used += [complete] if delta is None else [complete, delta]
            if revoked is not None:
                return CrlVerdict(revoked=revoked, used=tuple(used))
            if not _superseded(complete, completes):
                mask |= interim
    if mask == ALL_REASONS:
        return CrlVerdict(good=True, used=tuple(used))
    if not problems:
        problems.append("no usable CRL covers this certificate" + (" for every reason" if mask else ""))
    return CrlVerdict(used=tuple(used), problems=tuple(problems))
