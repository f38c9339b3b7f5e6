"""RFC 5280 6.3.3 over parsed CRLs, at a fixed clock: scope, reasons, indirect and delta CRLs (pure, no I/O)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fixed import HOUR, NOW, cdp, client, crl, crl_builder, idp, root, sub, uri_point
from nodegate.pki.authority import CertificateAuthority
from nodegate_authorizer.names import canonical
from nodegate_authorizer.revocation.crl import CrlIndex
from nodegate_authorizer.revocation.crl_validation import ALL_REASONS, crl_status, scope_problem

SKEW = dt.timedelta(seconds=60)


def ok(_: object) -> None:
    return None


def test_partitioned_crl_answers_only_for_its_own_partition() -> None:
    ca = sub(root())
    in_b = client(ca, extensions=[cdp(uri_point("http://crl.example/b.crl"))]).cert
    partition_a = crl(ca, [], extensions=[idp("http://crl.example/a.crl")])
    partition_b = crl(ca, [in_b.serial_number], extensions=[idp("http://crl.example/b.crl")])
    assert scope_problem(partition_a, in_b, uri_point("http://crl.example/b.crl"))
    alone = crl_status(in_b, [partition_a], NOW, SKEW, ok)
    assert not alone.good
    assert alone.revoked is None
    assert crl_status(in_b, [partition_a, partition_b], NOW, SKEW, ok).revoked is not None


def test_crl_with_a_distribution_point_does_not_cover_a_certificate_without_one() -> None:
    ca = sub(root())
    bare = client(ca, with_crl_url=False).cert
    verdict = crl_status(bare, [crl(ca, [], extensions=[idp("http://crl.example/a.crl")])], NOW, SKEW, ok)
    assert not verdict.good


def test_user_only_and_ca_only_crls() -> None:
    top = root()
    ca = sub(top)
    leaf = client(ca, with_crl_url=False).cert
    assert not crl_status(leaf, [crl(ca, extensions=[idp(only_contains_ca_certs=True)])], NOW, SKEW, ok).good
    assert crl_status(leaf, [crl(ca, extensions=[idp(only_contains_user_certs=True)])], NOW, SKEW, ok).good
    assert not crl_status(ca.cert, [crl(top, extensions=[idp(only_contains_user_certs=True)])], NOW, SKEW, ok).good


def test_reason_partitioned_crls_must_cover_every_reason() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    compromise = frozenset({x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise})
    rest = ALL_REASONS - compromise
    first = crl(ca, extensions=[idp(only_some_reasons=compromise)])
    second = crl(ca, number=2, extensions=[idp(only_some_reasons=rest)])
    assert not crl_status(leaf, [first], NOW, SKEW, ok).good
    assert crl_status(leaf, [first, second], NOW, SKEW, ok).good


def test_indirect_crl_entries_belong_to_the_named_certificate_issuer() -> None:
    top = root()
    ca, crl_authority = sub(top, "Issuing A"), sub(top, "CRL Authority")
    crl_issuer = [x509.DirectoryName(crl_authority.cert.subject)]
    leaf = client(ca, extensions=[cdp(uri_point("http://crl.example/indirect.crl", crl_issuer=crl_issuer))]).cert
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.serial_number)
        .revocation_date(NOW - HOUR)
        .add_extension(x509.CertificateIssuer([x509.DirectoryName(ca.cert.subject)]), critical=True)
        .build()
    )
    from cryptography.hazmat.primitives import hashes

    from nodegate_authorizer.revocation.crl import parse_crl

    def indirect(entries: list[x509.RevokedCertificate], **flags: object) -> bytes:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(crl_authority.cert.subject)
            .last_update(NOW - HOUR)
            .next_update(NOW + HOUR)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(idp("http://crl.example/indirect.crl", **flags)[0], critical=True)
        )
        for item in entries:
            builder = builder.add_revoked_certificate(item)
        from cryptography.hazmat.primitives.serialization import Encoding

        return builder.sign(crl_authority.key, hashes.SHA256()).public_bytes(Encoding.DER)

    listed = parse_crl(indirect([entry], indirect_crl=True))
    assert listed.revoked.get(canonical(ca.cert.subject), leaf.serial_number) is not None
    assert crl_status(leaf, [listed], NOW, SKEW, ok).revoked is not None
    not_indirect = parse_crl(indirect([], indirect_crl=False))
    assert "not marked indirect" in (scope_problem(not_indirect, leaf, leaf_point(leaf)) or "")


def leaf_point(cert: x509.Certificate) -> x509.DistributionPoint:
    return next(iter(cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value))


def test_delta_crls() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    base = crl(ca, [], number=5)

    def delta(serials: list[int], *, base_number: int = 5, number: int = 6, **kw: object) -> object:
        return crl(ca, serials, number=number, extensions=[(x509.DeltaCRLIndicator(base_number), True)], **kw)

    assert crl_status(leaf, [base], NOW, SKEW, ok).good
    assert crl_status(leaf, [base, delta([leaf.serial_number])], NOW, SKEW, ok).revoked is not None
    stale = delta([], this_update=NOW - 3 * HOUR, next_update=NOW - 2 * HOUR)
    assert not crl_status(leaf, [base, stale], NOW, SKEW, ok).good  # a delta we cannot use is no answer
    assert not crl_status(leaf, [base, delta([], base_number=7, number=8)], NOW, SKEW, ok).good
    assert not crl_status(leaf, [delta([])], NOW, SKEW, ok).good  # a delta without its base
    on_hold = crl(ca, [leaf.serial_number], number=5, reasons={leaf.serial_number: x509.ReasonFlags.certificate_hold})
    released = delta([leaf.serial_number], reasons={leaf.serial_number: x509.ReasonFlags.remove_from_crl})
    assert crl_status(leaf, [on_hold], NOW, SKEW, ok).revoked is not None
    assert crl_status(leaf, [on_hold, released], NOW, SKEW, ok).revoked is not None  # unadvertised: no removal
    freshest = (x509.FreshestCRL([uri_point("http://crl.example/delta.crl")]), False)
    held = {leaf.serial_number: x509.ReasonFlags.certificate_hold}
    advertised = crl(ca, [leaf.serial_number], number=5, reasons=held, extensions=[freshest])
    assert crl_status(leaf, [advertised, released], NOW, SKEW, ok).good


def test_unusable_crls_are_no_answer() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    unknown_critical = crl(
        ca, extensions=[(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"), True)]
    )
    stale = crl(ca, this_update=NOW - 3 * HOUR, next_update=NOW - 2 * HOUR)
    future = crl(ca, this_update=NOW + 2 * HOUR, next_update=NOW + 3 * HOUR)
    for index in (unknown_critical, stale, future):
        verdict = crl_status(leaf, [index], NOW, SKEW, ok)
        assert not verdict.good
        assert verdict.revoked is None
        assert verdict.problems
    refused = crl_status(leaf, [crl(ca)], NOW, SKEW, lambda _: "bad signature")
    assert not refused.good
    assert refused.problems == ("bad signature",)
    assert crl_status(leaf, [crl(ca, next_update=NOW - SKEW / 2)], NOW, SKEW, ok).good  # within the skew


def test_removed_from_crl_in_a_complete_crl_is_not_revoked() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    listed = crl(ca, [leaf.serial_number], reasons={leaf.serial_number: x509.ReasonFlags.remove_from_crl})
    assert crl_status(leaf, [listed], NOW, SKEW, ok).good


def test_pem_and_der_crls_parse_alike_and_garbage_does_not() -> None:
    import pytest
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.answers import SourceInvalid
    from nodegate_authorizer.revocation.crl import parse_crl

    ca = sub(root())
    listed = ca.crl({5: NOW - HOUR}, this_update=NOW - HOUR, next_update=NOW + HOUR)
    pem, der = listed.public_bytes(Encoding.PEM), listed.public_bytes(Encoding.DER)
    for serial in (4, 5, 6):
        found = parse_crl(b"\n  " + pem).revoked.get(canonical(ca.cert.subject), serial)
        assert found == parse_crl(der).revoked.get(canonical(ca.cert.subject), serial)
        assert (found is not None) == (serial == 5)
    for garbage in (b"", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", b"\x30\x03\x02\x01\x00"):
        with pytest.raises(SourceInvalid, match="malformed CRL"):
            parse_crl(garbage)


def test_clock_skew_is_forgiven_on_crl_times_and_no_more() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    skew = dt.timedelta(seconds=60)
    early = crl(ca, this_update=NOW + skew / 2, next_update=NOW + HOUR)
    too_early = crl(ca, this_update=NOW + 2 * skew, next_update=NOW + HOUR)
    just_stale = crl(ca, this_update=NOW - HOUR, next_update=NOW - skew / 2)
    stale = crl(ca, this_update=NOW - HOUR, next_update=NOW - 2 * skew)
    assert crl_status(leaf, [early], NOW, skew, ok).good
    assert not crl_status(leaf, [too_early], NOW, skew, ok).good
    assert crl_status(leaf, [just_stale], NOW, skew, ok).good
    assert not crl_status(leaf, [stale], NOW, skew, ok).good


def test_a_delta_from_another_issuer_or_scope_is_not_applied() -> None:
    top = root()
    ca, other = sub(top), sub(top, "Other Issuing")
    leaf = client(ca, with_crl_url=False).cert
    base = crl(ca, [], number=5)
    foreign = crl(other, [leaf.serial_number], number=6, extensions=[(x509.DeltaCRLIndicator(5), True)])
    scoped = crl(
        ca,
        [leaf.serial_number],
        number=6,
        extensions=[(x509.DeltaCRLIndicator(5), True), idp(only_contains_ca_certs=True)],
    )
    assert crl_status(leaf, [base, foreign, scoped], NOW, SKEW, ok).good


def test_crl_entry_extensions() -> None:
    """certificateIssuer counts only on indirect CRLs; one without a directory name, or an unknown critical
    entry extension anywhere, makes the CRL unusable."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.crl import parse_crl

    top = root()
    ca, other = sub(top), sub(top, "Other Issuing")
    leaf = client(ca, with_crl_url=False).cert

    def direct(*entries: tuple[int, list[tuple[x509.ExtensionType, bool]]]) -> object:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(NOW - HOUR)
            .next_update(NOW + HOUR)
            .add_extension(x509.CRLNumber(1), critical=False)
        )
        for serial, extensions in entries:
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - HOUR)
            for value, critical in extensions:
                entry = entry.add_extension(value, critical=critical)
            builder = builder.add_revoked_certificate(entry.build())
        return parse_crl(builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER))

    elsewhere = x509.CertificateIssuer([x509.DirectoryName(other.cert.subject)])
    assert crl_status(leaf, [direct((leaf.serial_number, [(elsewhere, True)]))], NOW, SKEW, ok).revoked is not None
    no_directory = x509.CertificateIssuer([x509.DNSName("example.com")])
    indirect = crl(ca, [], extensions=[idp(indirect_crl=True)])
    assert crl_status(leaf, [indirect], NOW, SKEW, ok).good
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.7"), b"\x05\x00")
    for unusable in (direct((7, [(unknown, True)])), parse_crl_indirect(ca, [(no_directory, True)])):
        verdict = crl_status(leaf, [unusable], NOW, SKEW, ok)  # the entry is another certificate's
        assert not verdict.good
        assert verdict.problems
    assert crl_status(leaf, [direct((7, [(unknown, False)]))], NOW, SKEW, ok).good


def parse_crl_indirect(ca: object, extensions: list[tuple[x509.ExtensionType, bool]]) -> object:
    """An indirect CRL of ``ca`` with one entry (serial 7) carrying ``extensions``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.crl import parse_crl

    entry = x509.RevokedCertificateBuilder().serial_number(7).revocation_date(NOW - HOUR)
    for value, critical in extensions:
        entry = entry.add_extension(value, critical=critical)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - HOUR)  # type: ignore[attr-defined]
        .next_update(NOW + HOUR)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(idp(indirect_crl=True)[0], critical=True)
        .add_revoked_certificate(entry.build())
    )
    return parse_crl(builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER))  # type: ignore[attr-defined]


def test_the_newest_delta_decides_and_an_unusable_crl_does_not_hide_a_good_one() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.crl import parse_crl

    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    serial = leaf.serial_number
    base = crl(ca, [], number=5)
    older = crl(ca, [serial], number=6, extensions=[(x509.DeltaCRLIndicator(5), True)])
    newer = crl(
        ca,
        [serial],
        number=7,
        extensions=[(x509.DeltaCRLIndicator(5), True)],
        reasons={serial: x509.ReasonFlags.remove_from_crl},
    )
    assert crl_status(leaf, [base, older, newer], NOW, SKEW, ok).good
    assert crl_status(leaf, [base, newer, older], NOW, SKEW, ok).good
    stale = crl(ca, this_update=NOW - 3 * HOUR, next_update=NOW - 2 * HOUR)
    assert crl_status(leaf, [stale, crl(ca)], NOW, SKEW, ok).good
    unnumbered = parse_crl(
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
        .sign(ca.key, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    delta = crl(ca, [], number=6, extensions=[(x509.DeltaCRLIndicator(5), True)])
    verdict = crl_status(leaf, [unnumbered, delta], NOW, SKEW, ok)
    assert not verdict.good
    assert "cRLNumber" in verdict.problems[0]
    partition = idp("http://crl.example/a.crl")
    broken_delta = crl(ca, [], number=6, extensions=[(x509.DeltaCRLIndicator(9), True), partition])
    in_a = client(ca, extensions=[cdp(uri_point("http://crl.example/a.crl"))]).cert
    assert crl_status(
        in_a, [crl(ca, number=5, extensions=[partition]), broken_delta, crl(ca, number=8)], NOW, SKEW, ok
    ).good


def test_skew_bounds_are_inclusive() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    assert crl_status(leaf, [crl(ca, this_update=NOW + SKEW, next_update=NOW + HOUR)], NOW, SKEW, ok).good
    assert crl_status(leaf, [crl(ca, this_update=NOW - HOUR, next_update=NOW - SKEW)], NOW, SKEW, ok).good


# --- issue 23, revocation inputs nobody here wrote: classes, with generated inputs -------------------------

KEY_COMPROMISE = x509.ReasonFlags.key_compromise
REMOVE = x509.ReasonFlags.remove_from_crl


def _raw_crl(ca: CertificateAuthority, *, number: tuple[int, bool] | None) -> bytes:
    """A CRL with the cRLNumber given as (value, critical), or none at all."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number[0]), critical=number[1])
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(Encoding.DER)


@settings(max_examples=20, deadline=None)
@given(number=st.one_of(st.none(), st.tuples(st.integers(0, 2**64), st.booleans())))
def test_a_crl_answers_only_with_a_non_critical_crl_number(number: tuple[int, bool] | None) -> None:
    """RFC 5280 5.2.3: conforming CRL issuers MUST include cRLNumber, and mark it non-critical."""
    from nodegate_authorizer.revocation.crl import parse_crl

    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    verdict = crl_status(leaf, [parse_crl(_raw_crl(ca, number=number))], NOW, SKEW, ok)
    assert verdict.good == (number is not None and not number[1]), verdict.problems
    if not verdict.good:
        assert "cRLNumber" in verdict.problems[0]


def _delta(
    ca: CertificateAuthority, number: int, base: int, listed: dict[int, x509.ReasonFlags], **kw: object
) -> CrlIndex:
    return crl(
        ca,
        list(listed),
        number=number,
        reasons=listed,
        extensions=[(x509.DeltaCRLIndicator(base), True)],
        **kw,
    )


@settings(max_examples=60, deadline=None)
@given(complete=st.integers(2, 50), data=st.data())
def test_a_delta_not_newer_than_its_complete_crl_is_ignored(complete: int, data: st.DataObject) -> None:
    """RFC 5280 5.2.4 (d): a delta combines only when its cRLNumber is at or above the complete CRL's. An older
    delta's removeFromCRL, or one issued together with the complete CRL (same number, 5.2.3), must not take off
    a revocation the complete CRL lists, and an older delta that has expired must not leave the certificate
    unanswered."""
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    serial = leaf.serial_number
    number = data.draw(st.integers(1, complete), label="old delta's number")
    base = data.draw(st.integers(0, number - 1), label="old delta's base")
    stale = data.draw(st.booleans(), label="old delta expired")
    times = {"this_update": NOW - 3 * HOUR, "next_update": NOW - 2 * HOUR} if stale else {}
    old = _delta(ca, number, base, {serial: REMOVE}, **times)
    listing = crl(ca, [serial], number=complete, reasons={serial: KEY_COMPROMISE})
    verdict = crl_status(leaf, [listing, old], NOW, SKEW, ok)
    if number == complete and stale:  # an expired delta of the complete CRL's own number is not superseded
        assert verdict.revoked is None
        assert not verdict.good
        return
    assert verdict.revoked is not None
    assert verdict.revoked.reason is KEY_COMPROMISE
    assert crl_status(leaf, [crl(ca, number=complete), old], NOW, SKEW, ok).good


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(range(3)), stale_older=st.booleans())
def test_the_newest_delta_by_number_decides_whatever_the_order(order: list[int], stale_older: bool) -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    serial = leaf.serial_number
    times = {"this_update": NOW - 3 * HOUR, "next_update": NOW - 2 * HOUR} if stale_older else {}
    deltas = [
        _delta(ca, 6, 5, {serial: KEY_COMPROMISE}, **times),
        _delta(ca, 7, 5, {}, **times),
        _delta(ca, 8, 5, {serial: KEY_COMPROMISE}),
    ]
    verdict = crl_status(leaf, [crl(ca, number=5), *(deltas[i] for i in order)], NOW, SKEW, ok)
    assert verdict.revoked is not None
    cleared = _delta(ca, 9, 5, {serial: REMOVE})
    assert crl_status(leaf, [crl(ca, number=5), cleared, *(deltas[i] for i in order)], NOW, SKEW, ok).good


@settings(max_examples=30, deadline=None)
@given(certificate=st.booleans(), in_crl=st.booleans())
def test_an_advertised_delta_that_is_missing_leaves_the_certificate_unanswered(certificate: bool, in_crl: bool) -> None:
    """RFC 5280 4.2.1.15 / 5.2.6: when the certificate or the complete CRL names a freshest CRL, the complete
    CRL alone does not say "good"; with the delta it does."""
    ca = sub(root())
    freshest = x509.FreshestCRL([uri_point("http://crl.example/delta.crl")])
    leaf = client(ca, with_crl_url=False, extensions=[(freshest, False)] if certificate else []).cert
    complete = crl(ca, number=5, extensions=[(freshest, False)] if in_crl else [])
    verdict = crl_status(leaf, [complete], NOW, SKEW, ok)
    assert verdict.good == (not certificate and not in_crl)
    assert crl_status(leaf, [complete, _delta(ca, 6, 5, {})], NOW, SKEW, ok).good


@settings(max_examples=30, deadline=None)
@given(others=st.lists(st.sampled_from(["CN=Other A", "CN=Other B", "CN=Other C"]), max_size=3), data=st.data())
def test_every_directory_name_of_a_certificate_issuer_entry_counts(others: list[str], data: st.DataObject) -> None:
    """RFC 5280 5.3.3: certificateIssuer is GeneralNames; the entry belongs to each directory name in it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.crl import parse_crl

    top = root()
    ca, crl_authority = sub(top, "Issuing A"), sub(top, "CRL Authority")
    names: list[x509.GeneralName] = [x509.DirectoryName(x509.Name.from_rfc4514_string(o)) for o in others]
    names.insert(data.draw(st.integers(0, len(names)), label="position"), x509.DirectoryName(ca.cert.subject))
    names.insert(0, x509.UniformResourceIdentifier("http://not-a-directory.example"))
    point = uri_point("http://crl.example/indirect.crl", crl_issuer=[x509.DirectoryName(crl_authority.cert.subject)])
    leaf = client(ca, extensions=[cdp(point)]).cert
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.serial_number)
        .revocation_date(NOW - HOUR)
        .add_extension(x509.CertificateIssuer(names), critical=True)
        .build()
    )
    indirect = parse_crl(
        x509.CertificateRevocationListBuilder()
        .issuer_name(crl_authority.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(idp("http://crl.example/indirect.crl", indirect_crl=True)[0], critical=True)
        .add_revoked_certificate(entry)
        .sign(crl_authority.key, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    assert crl_status(leaf, [indirect], NOW, SKEW, ok).revoked is not None


def test_every_entry_of_a_crl_is_indexed_not_only_the_last() -> None:
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    index = crl(ca, [leaf.serial_number, leaf.serial_number + 1, leaf.serial_number + 2])
    for n in range(-1, 4):
        assert (index.revoked.get(index.issuer, leaf.serial_number + n) is not None) == (n in range(3))
    assert crl_status(leaf, [index], NOW, SKEW, ok).revoked is not None


def test_delta_numbering_boundaries() -> None:
    """RFC 5280 5.2.4 (d) at its boundary: a delta numbered like its complete CRL is not newer; a complete
    CRL's revocation stands when the newer delta does not mention the certificate."""
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    serial = leaf.serial_number
    listing = crl(ca, [serial], number=5, reasons={serial: KEY_COMPROMISE})
    same_number = _delta(ca, 5, 4, {serial: REMOVE})
    assert crl_status(leaf, [listing, same_number], NOW, SKEW, ok).revoked is not None
    assert crl_status(leaf, [listing, _delta(ca, 6, 5, {})], NOW, SKEW, ok).revoked is not None


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(["old", "old delta", "current"]), revoking_delta=st.booleans())
def test_a_superseded_complete_crl_and_its_delta_never_vouch_for_a_certificate(
    order: list[str], revoking_delta: bool
) -> None:
    """RFC 5280 5.2.3, 5.2.4, 6.3.3 (a): only the current complete CRL of a scope (and a delta built on it) may
    answer "good". The case a reviewer reproduced: complete #3, its delta #4, complete #5 whose delta #6 (which
    revokes) is withheld. #5 alone cannot answer (its delta is advertised); the old pair #3 + #4 must not answer
    for it. A revocation on the old pair still refuses (every usable CRL in scope is read)."""
    ca = sub(root())
    freshest = x509.FreshestCRL([uri_point("http://crl.example/delta.crl")])
    leaf = client(ca, with_crl_url=False, extensions=[(freshest, False)]).cert
    revoked = [leaf.serial_number] if revoking_delta else []
    crls = {"old": crl(ca, number=3), "old delta": _delta(ca, 4, 3, {}), "current": crl(ca, number=5)}
    if revoking_delta:
        crls["old delta"] = crl(ca, revoked, number=4, extensions=[(x509.DeltaCRLIndicator(3), True)])
    verdict = crl_status(leaf, [crls[name] for name in order], NOW, SKEW, ok)
    assert not verdict.good
    assert (verdict.revoked is not None) == revoking_delta
    assert crl_status(leaf, [crls["old"], crls["old delta"]], NOW, SKEW, ok).good != revoking_delta  # alone: current
    assert crl_status(leaf, [crls["current"], _delta(ca, 6, 5, {})], NOW, SKEW, ok).good


# --- mutation survivors (make mutate over revocation/crl_validation): each test names the rule it guards ---


@settings(max_examples=30, deadline=None)
@given(number=st.integers(0, 2**32))
@example(number=0)
def test_only_a_delta_numbered_above_an_advertised_complete_crl_takes_a_revocation_off(number: int) -> None:
    """RFC 5280 5.2.3, 5.2.4 (d): a delta issued together with its complete CRL (the same cRLNumber) describes the
    same moment and may not take off a revocation the complete CRL lists (R2), even when the complete CRL
    advertises deltas; the next delta (above it, built on it) may. cRLNumber 0 is a number like any other."""
    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    serial = leaf.serial_number
    freshest = (x509.FreshestCRL([uri_point("http://crl.example/delta.crl")]), False)
    held = crl(ca, [serial], number=number, reasons={serial: x509.ReasonFlags.certificate_hold}, extensions=[freshest])
    same_moment = _delta(ca, number, number, {serial: REMOVE})
    assert crl_status(leaf, [held, same_moment], NOW, SKEW, ok).revoked is not None
    assert crl_status(leaf, [held, _delta(ca, number + 1, number, {serial: REMOVE})], NOW, SKEW, ok).good


def test_an_unusable_entry_does_not_hide_another_crls_revocation() -> None:
    """crl_status reads every usable CRL in scope (stricter than RFC 5280 6.3.3, docs/conformance.md): a CRL whose
    entry for the certificate cannot be used (certificateIssuer, which 5.3.3 allows on indirect CRLs only, here
    without a directory name) answers nothing for it, and the next CRL of the scope is still read: its
    revocation refuses."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_authorizer.revocation.crl import parse_crl

    ca = sub(root())
    leaf = client(ca, with_crl_url=False).cert
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.serial_number)
        .revocation_date(NOW - HOUR)
        .add_extension(x509.CertificateIssuer([x509.DNSName("example.com")]), critical=False)
        .build()
    )
    unusable = parse_crl(
        crl_builder(ca.cert.subject)
        .add_revoked_certificate(entry)
        .sign(ca.key, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    alone = crl_status(leaf, [unusable], NOW, SKEW, ok)
    assert not alone.good
    assert alone.revoked is None
    assert "certificateIssuer" in alone.problems[0]
    listing = crl(ca, [leaf.serial_number], number=2)
    assert crl_status(leaf, [unusable, listing], NOW, SKEW, ok).revoked is not None
