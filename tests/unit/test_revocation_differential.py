"""Differential testing of the revocation step against pyhanko-certvalidator, the second implementation.

A fixed path (root -> issuing CA -> client certificate, no distribution points, as in PKITS) and Hypothesis
choosing the CRL of each issuer: absent, good, listing the certificate (with or without a reason code, hold
included), stale, not yet valid, signed by a key that is not the issuer's, with an extra unrelated entry.
Both implementations decide through their production entry points (nodegate's runtime with a file:// CRL
store, certvalidator's ``revocation_mode="require"``) at the same fixed time and must agree, except on one
documented deviation, where nodegate must be the one refusing:

- R1: a CRL lists the certificate with a revocation date after the validation time. RFC 5280 6.3.3 (i) looks
  for the serial number only, not the date; certvalidator validates "as of" its moment and allows.

Both refuse a certificate that an older CRL lists and a newer one does not (nodegate reads every usable CRL,
docs/conformance.md)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from fixed import HOUR, NOW, T0, root, sub
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, new_key
from nodegate_authorizer.chain import PathPolicy
from nodegate_dev.conformance import certvalidator_allows, decide

ROOT = root("Differential Root")
ISSUING = sub(ROOT, "Differential Issuing")
LEAF = ISSUING.issue(client_name("alice", "node-1"), not_before=T0, with_crl_url=False, with_ocsp_url=False)
IMPOSTOR = new_key("ec")
DAY = dt.timedelta(days=1)
R1 = "revocation date after now"
KINDS = (
    "absent",
    "good",
    "revoked",
    "revoked with reason",
    "on hold",
    "stale",
    "not yet valid",
    "wrong signer",
    "another CA's name",
    "unknown critical extension",
    "newer good, older revoked",
    R1,
)
UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
OUTCOMES: Counter[str] = Counter()


def crl(issuer: CertificateAuthority, kind: str, serial: int, extra: bool) -> list[bytes]:
    """The CRLs ``issuer`` publishes for the certificate with ``serial``, as ``kind`` says."""
    if kind == "absent":
        return []
    if kind == "newer good, older revoked":
        older = issuer.crl({serial: NOW - 3 * DAY}, this_update=NOW - 2 * DAY, next_update=NOW + DAY, number=1)
        newer = issuer.crl({}, this_update=NOW - HOUR, next_update=NOW + DAY, number=2)
        return [crl_der(older), crl_der(newer)]
    listed = kind in ("revoked", "revoked with reason", "on hold", R1)
    revoked = {serial: NOW + HOUR if kind == R1 else NOW - 2 * HOUR} if listed else {}
    if extra:
        revoked[serial + 1] = NOW - DAY
    reasons = {"revoked with reason": x509.ReasonFlags.key_compromise, "on hold": x509.ReasonFlags.certificate_hold}
    this_update = {"stale": NOW - 3 * DAY, "not yet valid": NOW + DAY}.get(kind, NOW - HOUR)
    signer = CertificateAuthority.root("Differential Other") if kind == "another CA's name" else issuer
    signed = signer.crl(
        revoked,
        this_update=this_update,
        next_update=NOW - DAY if kind == "stale" else this_update + 2 * DAY,
        signer=IMPOSTOR if kind == "wrong signer" else None,
        reasons={serial: reasons[kind]} if kind in reasons else None,
        extensions=[(UNKNOWN, True)] if kind == "unknown critical extension" else (),
    )
    return [crl_der(signed)]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    leaf_crl=st.sampled_from(KINDS),
    issuing_crl=st.sampled_from(KINDS),
    extra_entries=st.booleans(),
)
def test_revocation_decisions_agree_with_certvalidator(leaf_crl: str, issuing_crl: str, extra_entries: bool) -> None:
    crls = {
        f"{name}-{n}": der
        for name, ders in (
            ("issuing", crl(ISSUING, leaf_crl, LEAF.cert.serial_number, extra_entries)),
            ("root", crl(ROOT, issuing_crl, ISSUING.cert.serial_number, extra_entries)),
        )
        for n, der in enumerate(ders)
    }
    root_der, issuing_der, leaf_der = (c.cert.public_bytes(Encoding.DER) for c in (ROOT, ISSUING, LEAF))
    allowed, reason, detail = decide([root_der, issuing_der], crls, leaf_der, NOW, PathPolicy())
    theirs = certvalidator_allows(root_der, [issuing_der], list(crls.values()), leaf_der, NOW)
    deviation = R1 in (leaf_crl, issuing_crl)
    OUTCOMES[f"{'allow' if allowed else 'deny'}/{'allow' if theirs else 'deny'}{' R1' if deviation else ''}"] += 1
    hypothesis_event(f"leaf CRL {leaf_crl}, issuing CA CRL {issuing_crl}")
    assert allowed == (leaf_crl == "good" and issuing_crl == "good"), (reason, detail)
    if not deviation:
        assert allowed == theirs, (leaf_crl, issuing_crl, extra_entries, reason, detail)


# --- delta CRLs and multi-name indirect CRL entries (issue 23) ----------------------------------------------
# Deviations, each a named rule in docs/conformance.md, where nodegate must be the one refusing:
# - R2 (superseded delta): certvalidator combines the first matching delta without comparing cRLNumbers
#   (RFC 5280 5.2.4 (c), (d)); nodegate uses only the newest delta above the complete CRL's number, built on a
#   base the complete CRL satisfies, and otherwise leaves an advertised delta unanswered.
# - R3 (every certificateIssuer name): certvalidator reads the first directory name of a certificateIssuer
#   entry; nodegate every one (RFC 5280 5.3.3: the extension is GeneralNames).
# - R4 (unadvertised delta): certvalidator ignores a delta no freshestCRL advertises; nodegate lets it add a
#   revocation (never remove one).

DELTA_URL = "http://127.0.0.1:9/issuing-delta.crl"  # a refused destination: the advertised source fails
FRESHEST = x509.FreshestCRL([x509.DistributionPoint([x509.UniformResourceIdentifier(DELTA_URL)], None, None, None)])
LISTINGS = {
    "none": None,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "removeFromCRL": x509.ReasonFlags.remove_from_crl,
}
COMPLETE = 5


@st.composite
def deltas(draw: st.DrawFn) -> tuple[int, int, str, bool]:
    """(number, BaseCRLNumber, how it lists the leaf, stale) of one delta CRL; superseded ones (number not
    above the complete CRL's) list the leaf with removeFromCRL or not at all."""
    number = draw(st.integers(3, 8))
    base = draw(st.integers(2, number - 1))
    kinds = ["none", "removeFromCRL"] if number <= COMPLETE else list(LISTINGS)
    return number, base, draw(st.sampled_from(kinds)), draw(st.booleans())


def _listed_crl(
    number: int, listing: str, *, base: int | None = None, stale: bool = False, advertised: bool = False
) -> bytes:
    reason = LISTINGS[listing]
    serial = LEAF.cert.serial_number
    extensions: list[tuple[x509.ExtensionType, bool]] = [(x509.DeltaCRLIndicator(base), True)] if base else []
    if advertised:
        extensions.append((FRESHEST, False))
    signed = ISSUING.crl(
        {serial: NOW - DAY} if reason else {},
        this_update=NOW - 3 * DAY if stale else NOW - HOUR,
        next_update=NOW - 2 * DAY if stale else NOW + DAY,
        number=number,
        reasons={serial: reason} if reason else None,
        extensions=extensions,
    )
    return crl_der(signed)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    complete=st.sampled_from(["none", "keyCompromise", "certificateHold"]),
    advertised=st.booleans(),
    delta_crls=st.lists(deltas(), max_size=3, unique_by=lambda d: d[0]),
)
def test_delta_crl_decisions_against_certvalidator(
    complete: str, advertised: bool, delta_crls: list[tuple[int, int, str, bool]]
) -> None:
    """Numbered, multiple, advertised and failing deltas: the complete CRL (#5) may advertise a delta URL
    that cannot be fetched; the deltas come only from the CRL store. certvalidator is given the deltas newest
    first (it takes the first that matches)."""
    ordered = sorted(delta_crls, reverse=True)
    crls = {"root": crl_der(ROOT.crl({}, this_update=NOW - HOUR, next_update=NOW + DAY))}
    crls["complete"] = _listed_crl(COMPLETE, complete, advertised=advertised)
    crls |= {f"delta-{n}": _listed_crl(n, kind, base=b, stale=s) for n, b, kind, s in ordered}
    root_der, issuing_der, leaf_der = (c.cert.public_bytes(Encoding.DER) for c in (ROOT, ISSUING, LEAF))
    allowed, reason, detail = decide([root_der, issuing_der], crls, leaf_der, NOW, PathPolicy())
    theirs = certvalidator_allows(root_der, [issuing_der], list(crls.values()), leaf_der, NOW)
    newer = [d for d in ordered if d[0] >= COMPLETE]  # a delta issued with the complete CRL shares its number
    newest = newer[0] if newer else None
    if newest is None:
        expected = complete == "none" and not advertised
    elif newest[3] or newest[1] > COMPLETE:
        expected = False  # the newest delta is stale, or built on a complete CRL we do not have
    elif newest[2] == "none":
        expected = complete == "none"
    else:
        expected = newest[2] == "removeFromCRL" and (complete == "none" or (advertised and newest[0] > COMPLETE))
    assert allowed == expected, (complete, advertised, ordered, reason, detail)
    together = newest is not None and newest[0] == COMPLETE
    deviation = ("R6" if together else "R2" if advertised else "R4") if allowed != theirs else ""
    OUTCOMES[f"delta {'allow' if allowed else 'deny'}/{'allow' if theirs else 'deny'} {deviation}".strip()] += 1
    # nodegate never allows more, but for R6: a delta issued together with the complete CRL (OpenSSL agrees)
    assert not (allowed and not theirs) or together, (complete, advertised, ordered)


CRL_AUTHORITY = ROOT.sub_ca("Differential CRL Authority", not_before=T0)
INDIRECT_URL = "http://127.0.0.1:9/indirect.crl"
OTHER_NAMES = ["CN=Differential Other A", "CN=Differential Other B"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    others=st.lists(st.sampled_from(OTHER_NAMES), max_size=2, unique=True),
    position=st.integers(0, 2),
    listed=st.booleans(),
)
def test_indirect_crl_entries_with_several_names_against_certvalidator(
    others: list[str], position: int, listed: bool
) -> None:
    point = x509.DistributionPoint(
        [x509.UniformResourceIdentifier(INDIRECT_URL)], None, None, [x509.DirectoryName(CRL_AUTHORITY.cert.subject)]
    )
    leaf = ISSUING.issue(
        client_name("bob", "node-2"),
        not_before=T0,
        with_crl_url=False,
        with_ocsp_url=False,
        extensions=[(x509.CRLDistributionPoints([point]), False)],
    )
    names: list[x509.GeneralName] = [x509.DirectoryName(x509.Name.from_rfc4514_string(o)) for o in others]
    names.insert(min(position, len(names)), x509.DirectoryName(ISSUING.cert.subject))
    idp = x509.IssuingDistributionPoint(
        [x509.UniformResourceIdentifier(INDIRECT_URL)], None, False, False, None, True, False
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(CRL_AUTHORITY.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + DAY)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(idp, critical=True)
    )
    serial = leaf.cert.serial_number if listed else leaf.cert.serial_number + 1
    entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY)
    builder = builder.add_revoked_certificate(entry.add_extension(x509.CertificateIssuer(names), True).build())
    crls = {
        "root": crl_der(ROOT.crl({}, this_update=NOW - HOUR, next_update=NOW + DAY)),
        "indirect": builder.sign(CRL_AUTHORITY.key, hashes.SHA256()).public_bytes(Encoding.DER),
    }
    ders = [c.cert.public_bytes(Encoding.DER) for c in (ROOT, ISSUING, CRL_AUTHORITY)]
    leaf_der = leaf.cert.public_bytes(Encoding.DER)
    allowed, reason, detail = decide(ders, crls, leaf_der, NOW, PathPolicy())
    theirs = certvalidator_allows(ders[0], ders[1:], list(crls.values()), leaf_der, NOW)
    assert allowed == (not listed), (reason, detail)
    first = names.index(x509.DirectoryName(ISSUING.cert.subject)) == 0
    label = f"indirect {'allow' if allowed else 'deny'}/{'allow' if theirs else 'deny'}"
    OUTCOMES[label + (" R3" if allowed != theirs else "")] += 1
    if not listed or first:
        assert allowed == theirs, (others, position, listed, reason, detail)
    else:
        assert not allowed  # R3: certvalidator reads only the first directory name
