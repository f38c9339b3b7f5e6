"""The CRL store on a directory: every file is listed (no 1,000-entry cap), unusable files fail closed."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from fixed import HOUR, NOW, client, crl_bytes, root, sub
from nodegate.pki.authority import CertificateAuthority
from nodegate_authorizer.names import canonical
from nodegate_authorizer.revocation.answers import SourceInvalid
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.revocation.store import load_crl_store


def test_directory_store_lists_every_file(tmp_path: Path) -> None:
    other = root("Other")
    filler = crl_bytes(other)
    for i in range(1200):
        (tmp_path / f"a-{i:05d}.crl").write_bytes(filler)
    ca = sub(root())
    leaf = client(ca).cert
    (tmp_path / "zzz.crl").write_bytes(crl_bytes(ca, [leaf.serial_number]))
    store = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    assert len(store.entries) == 1201
    ((_, index),) = store.by_issuer[canonical(ca.cert.subject)]
    assert index.revoked.get(canonical(ca.cert.subject), leaf.serial_number) is not None


def test_an_unusable_file_marks_the_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "good.crl").write_bytes(crl_bytes(root()))
    (tmp_path / "bad.crl").write_bytes(b"not a CRL")
    store = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    assert store.unavailable is not None
    assert "bad.crl" in store.unavailable
    again = load_crl_store(tmp_path.as_uri(), store, timeout=1, max_bytes=1 << 20)
    assert again.unavailable is not None  # still unusable when unchanged


# --- issue 23: bytes that raise inside cryptography become an unusable file, never a crash ------------------

PLACEHOLDER_CRL_EXT = x509.ObjectIdentifier("2.5.29.99")  # encodes to as many bytes as cRLNumber (2.5.29.20)
PLACEHOLDER_ENTRY_EXT = x509.ObjectIdentifier("2.5.29.97")  # as many as reasonCode (2.5.29.21)


def _oid(dotted: str) -> bytes:
    from asn1crypto.core import ObjectIdentifier

    return ObjectIdentifier(dotted).dump()


def duplicated(data: bytes, placeholder: x509.ObjectIdentifier, target: x509.ObjectIdentifier) -> bytes:
    """``data`` with the placeholder extension's OID rewritten to ``target``'s: a duplicated extension
    (the signature no longer matches; parsing must fail before anyone would check it)."""
    old, new = _oid(placeholder.dotted_string), _oid(target.dotted_string)
    assert len(old) == len(new)
    assert data.count(old) == 1
    return data.replace(old, new)


def crl_with_duplicate(where: str, issuer: CertificateAuthority, serial: int, *, signed: bool = False) -> bytes:
    """A CRL of ``issuer`` whose CRL-level or entry-level extension appears twice (``signed``: signed again
    after the edit, so that it is the CA's own statement)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate_dev.largecrl import resigned

    entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - HOUR)
    entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
    if where == "entry":
        entry = entry.add_extension(x509.UnrecognizedExtension(PLACEHOLDER_ENTRY_EXT, b"\x0a\x01\x01"), critical=False)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_revoked_certificate(entry.build())
    )
    if where == "crl":
        builder = builder.add_extension(
            x509.UnrecognizedExtension(PLACEHOLDER_CRL_EXT, b"\x02\x01\x02"), critical=False
        )
    der = builder.sign(issuer.key, hashes.SHA256()).public_bytes(Encoding.DER)
    if where == "crl":
        der = duplicated(der, PLACEHOLDER_CRL_EXT, x509.oid.ExtensionOID.CRL_NUMBER)
    else:
        der = duplicated(der, PLACEHOLDER_ENTRY_EXT, x509.oid.CRLEntryExtensionOID.CRL_REASON)
    return resigned(der, issuer.key) if signed else der


@settings(max_examples=12, deadline=None)
@given(where=st.sampled_from(["crl", "entry"]), pem_form=st.booleans(), position=st.integers(0, 2))
def test_a_crl_with_a_duplicated_extension_is_an_unusable_file_not_a_crash(
    tmp_path_factory: pytest.TempPathFactory, where: str, pem_form: bool, position: int
) -> None:
    """One such file used to raise DuplicateExtension out of the store load (every request failed). A duplicated
    CRL extension makes it one unusable file, named in the store's errors; a duplicated extension in an entry
    is read only when that entry is looked up (rule R5), and then it still revokes its certificate."""
    folder = tmp_path_factory.mktemp("store")
    ca = sub(root())
    leaf = client(ca).cert
    bad = crl_with_duplicate(where, ca, leaf.serial_number)
    if where == "entry":
        index = parse_crl(bad)
        assert index.revoked.get(index.issuer, leaf.serial_number + 1) is None
        listed = index.revoked.get(index.issuer, leaf.serial_number)  # unreadable, still listed: revoked
        assert listed is not None
        assert listed.reason is None
        return
    with pytest.raises(SourceInvalid, match="malformed CRL"):
        parse_crl(bad)
    if pem_form:
        bad = b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(bad) + b"-----END X509 CRL-----\n"
    names = ["a.crl", "b.crl", "c.crl"]
    for i, name in enumerate(names):
        (folder / name).write_bytes(bad if i == position else crl_bytes(root(f"Other {i}")))
    store = load_crl_store(folder.as_uri(), None, timeout=1, max_bytes=1 << 20)
    assert store.unavailable is not None
    assert names[position] in store.unavailable
    assert "malformed CRL" in store.unavailable


def test_a_crl_whose_signature_parameters_do_not_read_is_malformed() -> None:
    """RSASSA-PSS parameters naming MD5 load, then raise UnsupportedAlgorithm when read: the boundary reads
    them, so the CRL is malformed at parse time (not a surprise at signature time)."""
    hash_name = "md5"
    from asn1crypto import algos
    from asn1crypto import crl as asn1_crl

    parsed = asn1_crl.CertificateList.load(crl_bytes(sub(root())))
    params = {
        "hash_algorithm": {"algorithm": hash_name},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": hash_name}},
        "salt_length": 32,
    }
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
    parsed["signature_algorithm"] = algorithm
    parsed["tbs_cert_list"]["signature"] = algorithm
    with pytest.raises(SourceInvalid, match="malformed CRL: UnsupportedAlgorithm"):
        parse_crl(parsed.dump(force=True))


def test_a_crl_replaced_in_place_with_the_same_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    """`cp -p`, `rsync -t` or a coarse clock keep a file's size and mtime across a new CRL of the same size: the
    store's change tag includes the change time, which every write moves, so the CRL that revokes is read on
    the next listing (found by review)."""
    ca = sub(root())
    leaf = client(ca).cert
    other = leaf.serial_number ^ 1  # a serial of the same DER length
    before, after = crl_bytes(ca, [other]), crl_bytes(ca, [leaf.serial_number])
    while len(after) != len(before):  # ECDSA signatures vary by an octet or two
        after = crl_bytes(ca, [leaf.serial_number])
    path = tmp_path / "issuing.crl"
    path.write_bytes(before)
    stamp = path.stat()
    first = load_crl_store(tmp_path.as_uri(), None, timeout=1, max_bytes=1 << 20)
    path.write_bytes(after)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    second = load_crl_store(tmp_path.as_uri(), first, timeout=1, max_bytes=1 << 20)
    issuer = canonical(ca.cert.subject)
    ((_, old),) = first.by_issuer[issuer]
    ((_, new),) = second.by_issuer[issuer]
    assert old.revoked.get(issuer, leaf.serial_number) is None
    assert new.revoked.get(issuer, leaf.serial_number) is not None
