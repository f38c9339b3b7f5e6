"""RFC 5280 6.3.3 over parsed CRLs, at a fixed clock: scope, reasons, indirect and delta CRLs (pure, no I/O)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from fixed import HOUR, NOW, cdp, client, crl, idp, root, sub, uri_point
from nodegate_authorizer.names import canonical
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
    assert (canonical(ca.cert.subject), leaf.serial_number) in listed.entries
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
    assert crl_status(leaf, [on_hold, released], NOW, SKEW, ok).good


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
    assert parse_crl(b"\n  " + pem).entries == parse_crl(der).entries
    assert (canonical(ca.cert.subject), 5) in parse_crl(pem).entries
    for garbage in (b"", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", b"\x30\x03\x02\x01\x00"):
        with pytest.raises(SourceInvalid, match="malformed CRL"):
            parse_crl(garbage)
