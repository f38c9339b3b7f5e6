"""Truststore, CRL store and access policy served from S3 through a real moto server."""

from __future__ import annotations

import json

import pytest

from conftest import Invoke
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, pem, utcnow
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.sources.blobs import BlobError, list_blobs, read_blob
from nodegate_dev.world import World


def test_truststore_from_s3_and_pinned_version(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    first = s3.put_object(Bucket=name, Key="truststore.pem", Body=world.truststore.read_bytes())["VersionId"]
    other = CertificateAuthority.root("someone else")
    s3.put_object(Bucket=name, Key="truststore.pem", Body=pem(other.cert))
    client = world.client().cert_pem()
    uri = f"s3://{name}/truststore.pem"
    assert invoke(client, env={"TRUSTSTORE_URI": uri})[:2] == ("Deny", "UNTRUSTED_ISSUER")
    pinned = {"TRUSTSTORE_URI": uri, "TRUSTSTORE_VERSION": first}
    assert invoke(client, env=pinned)[:2] == ("Allow", None)


def test_truststore_rotated_in_s3_while_warm(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    env = {"TRUSTSTORE_URI": f"s3://{name}/ts.pem", "TRUSTSTORE_REFRESH_SECONDS": "0"}
    client = world.client().cert_pem()
    assert invoke(client, env=env)[:2] == ("Allow", None)
    # a new CA is added: its clients get in without a restart
    newcomer_root = CertificateAuthority.root("new root")
    newcomer = newcomer_root.sub_ca("new issuing")
    newcomer_client = newcomer.issue(client_name("bob", "node-9"))
    assert invoke(newcomer_client.cert_pem(), node="node-9", env=env | {"REVOCATION_MODE": "off"})[:2] == (
        "Deny",
        "UNTRUSTED_ISSUER",
    )
    s3.put_object(
        Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes() + pem(newcomer_root.cert, newcomer.cert)
    )
    assert invoke(newcomer_client.cert_pem(), node="node-9", env=env | {"REVOCATION_MODE": "off"})[:2] == (
        "Allow",
        None,
    )
    # the old CA is removed: its clients are out on the next call
    s3.put_object(Bucket=name, Key="ts.pem", Body=pem(newcomer_root.cert, newcomer.cert))
    assert invoke(client, env=env)[:2] == ("Deny", "UNTRUSTED_ISSUER")
    # the object disappears: nothing is cached as empty, every call denies
    s3.delete_object(Bucket=name, Key="ts.pem")
    assert invoke(client, env=env)[:2] == ("Deny", "TRUSTSTORE_UNAVAILABLE")


def test_crl_store_in_s3_for_certificates_without_cdp(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    good = world.client(with_crl_url=False, with_ocsp_url=False)
    bad = world.client("eve", "node-1", with_crl_url=False, with_ocsp_url=False)
    crl = world.issuing.crl({bad.cert.serial_number: utcnow()})
    s3.put_object(Bucket=name, Key="crls/issuing.crl", Body=crl_der(crl))
    env = {"TRUSTSTORE_URI": f"s3://{name}/ts.pem", "CRL_STORE_URI": f"s3://{name}/crls/"}
    assert invoke(good.cert_pem(), env=env)[:2] == ("Allow", None)
    assert invoke(bad.cert_pem(), env=env)[:2] == ("Deny", "REVOKED")
    # an unusable file in the store cannot be tied to an issuer: certificates without another good answer fail
    s3.put_object(Bucket=name, Key="crls/garbage.crl", Body=b"not a CRL")
    assert invoke(good.cert_pem(), env=env)[:2] == ("Allow", None)  # the good CRL still answers
    s3.delete_object(Bucket=name, Key="crls/issuing.crl")
    assert invoke(good.cert_pem(), env=env | {"CRL_STORE_REFRESH_SECONDS": "0"})[:2] == (
        "Deny",
        "REVOCATION_UNAVAILABLE",
    )
    s3.delete_object(Bucket=name, Key="crls/garbage.crl")
    s3.put_object(Bucket=name, Key="crls/issuing.crl", Body=crl_der(crl))
    # in require mode, a certificate without any source cannot pass; the stored CRL is such a source
    assert invoke(good.cert_pem(), env={"REVOCATION_MODE": "require"})[:2] == ("Deny", "REVOCATION_UNAVAILABLE")
    assert invoke(good.cert_pem(), env=env | {"REVOCATION_MODE": "require"})[:2] == ("Allow", None)


def test_policy_file_grants_and_denies(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    policy = {
        "version": 1,
        "disabledUsers": ["mallory"],
        "grants": [{"user": "carol", "nodes": ["node-1"], "methods": ["GET"]}],
    }
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps(policy).encode())
    env = {"ACCESS_POLICY_URI": f"s3://{name}/policy.json", "ACCESS_POLICY_REFRESH_SECONDS": "0"}
    carol = world.client("carol", "node-3").cert_pem()
    effect, reason, response = invoke(carol, node="node-1", env=env)
    assert (effect, reason) == ("Allow", None)
    resources = response["policyDocument"]["Statement"][0]["Resource"]
    assert all("/prod/GET/nodes/node-1" in r for r in resources)
    assert response["context"]["nodeId"] == "node-1"
    assert response["context"]["certNodeId"] == "node-3"
    assert invoke(carol, node="node-1", method="POST", env=env)[:2] == ("Deny", "POLICY_DENIED")
    assert invoke(carol, node="node-2", env=env)[:2] == ("Deny", "NODE_MISMATCH")
    mallory = world.client("mallory", "node-5").cert_pem()
    assert invoke(mallory, node="node-5", env=env)[:2] == ("Deny", "POLICY_DENIED")
    for broken in (
        b"{not json",
        b'{"version": 2}',
        b'{"version": 1, "grants": [{"user": "a b", "nodes": ["x"]}]}',
        b'{"version": 1, "grants": [{"user": "carol", "nodes": ["*"]}]}',
    ):
        s3.put_object(Bucket=name, Key="policy.json", Body=broken)
        assert invoke(carol, node="node-3", env=env)[:2] == ("Deny", "POLICY_UNAVAILABLE"), broken
    s3.delete_object(Bucket=name, Key="policy.json")
    assert invoke(carol, node="node-3", env=env)[:2] == ("Deny", "POLICY_UNAVAILABLE")


def test_crl_store_lists_every_object_and_rereads_only_what_changed(bucket) -> None:
    """5,000 objects in the store: the issuer's CRL sorts last, beyond the first 1,000-object page.

    The 4,999 others go straight into moto's backend (uploading them over HTTP would take most of a minute),
    and the store is refreshed from a previous load that already holds them, so only what changed is read."""
    from moto.s3.models import s3_backends

    from nodegate_authorizer.names import canonical
    from nodegate_authorizer.revocation.store import CrlStore, load_crl_store
    from nodegate_authorizer.sources.blobs import list_blobs

    s3, name = bucket
    other = CertificateAuthority.root("some other CA")
    filler = crl_der(other.crl({}))
    backend = next(iter(s3_backends.values()))["aws"]
    for i in range(4999):
        backend.put_object(name, f"crls/a-{i:05d}.crl", filler)
    prefix = f"s3://{name}/crls/"
    before = list_blobs(prefix, timeout=5)
    assert len(before) == 4999
    filler_index = parse_crl(filler)
    previous = CrlStore(entries={uri: (tag, filler_index) for uri, tag in before.items()})
    issuing = CertificateAuthority.root("issuing CA")
    revoked = issuing.issue(client_name("mallory", "node-1"))
    s3.put_object(
        Bucket=name, Key="crls/zzz-issuing.crl", Body=crl_der(issuing.crl({revoked.cert.serial_number: utcnow()}))
    )
    s3.put_object(Bucket=name, Key="crls/a-00007.crl", Body=crl_der(other.crl({}, number=2)))
    store = load_crl_store(prefix, previous, timeout=5, max_bytes=1 << 20)
    assert len(store.entries) == 5000
    assert store.unavailable is None
    ((uri, index),) = store.by_issuer[canonical(issuing.cert.subject)]
    assert uri == f"{prefix}zzz-issuing.crl"
    assert index.revoked.get(index.issuer, revoked.cert.serial_number) is not None
    reread = sorted(uri for uri, entry in store.entries.items() if entry[1] is not filler_index)
    assert reread == [f"{prefix}a-00007.crl", f"{prefix}zzz-issuing.crl"]


@pytest.mark.parametrize("uri", ["file:///tmp/%00x", "file:///tmp/a%00/b.pem", "ftp://h/x"])
def test_a_uri_no_object_can_have_is_a_blob_error_never_a_crash(uri: str) -> None:
    """The blob boundary (the CLI's mirror and publish use it too, not only checked settings): a path with a NUL
    makes os calls raise ValueError; it is a non-transient BlobError like a missing file."""
    for call in (lambda: read_blob(uri, max_bytes=10), lambda: list_blobs(uri)):
        with pytest.raises(BlobError) as error:
            call()
        assert not error.value.transient
