"""Safer rotation (issue 22 item 6): publish-truststore accepts CRL signers, refuses any entry the authorizer
would skip (through its own parse_truststore), warns on certificates expiring within 30 days, tests sample
client certificates, shows the difference from the published bundle and asks before publishing (moto S3 and
CloudFormation)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import NODEGATE
from nodegate.aws.publish import check_bundle, confirm, difference, expiry_warnings, read_policy
from nodegate.pki.authority import CertificateAuthority, client_name, name, pem, utcnow
from nodegate_authorizer.certificates import sha256_hex
from nodegate_authorizer.identity_rules import key_id
from nodegate_authorizer.truststore import parse_truststore

ROOT = CertificateAuthority.root("publish root")
ISSUING = ROOT.sub_ca("publish issuing")
CRL_SIGNER = ROOT.issue(
    name(O="nodegate dev PKI", CN="publish CRL signer"),
    eku=None,
    key_usage=x509.KeyUsage(False, False, False, False, False, False, True, False, False),
)
LEAF = ISSUING.issue(client_name("alice", "node-1"))
BROKEN = b"-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n"


def publish_cli(cwd: Path, server: str, stack: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`nodegate publish-truststore` against the moto server, with no terminal."""
    return subprocess.run(
        [NODEGATE, "publish-truststore", "--stack", stack, "--region", "eu-west-1", *args],
        cwd=cwd,
        env=os.environ | {"AWS_ENDPOINT_URL": server},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_crl_signer_certificate_is_accepted() -> None:
    """The README asks for the CRL signer in the bundle; the authorizer keeps it; the check must accept it."""
    assert check_bundle(pem(ROOT.cert, ISSUING.cert, CRL_SIGNER.cert), utcnow()) == []


@settings(max_examples=40, deadline=None)
@given(entries=st.lists(st.sampled_from(["issuing", "crl-signer", "leaf", "broken"]), max_size=4))
def test_every_entry_the_authorizer_would_skip_is_refused_by_name(entries: list[str]) -> None:
    blocks = {
        "issuing": pem(ISSUING.cert),
        "crl-signer": pem(CRL_SIGNER.cert),
        "leaf": pem(LEAF.cert),
        "broken": BROKEN,
    }
    data = pem(ROOT.cert) + b"".join(blocks[e] for e in entries)
    skipped = parse_truststore(data).skipped
    problems = check_bundle(data, utcnow())
    refused = [p for p in problems if "would skip" in p]
    assert len(refused) == len(skipped)
    for entry in skipped:
        assert any(entry in p for p in refused)  # the entry (its number and subject) and the rule it broke
    assert bool(problems) == ("leaf" in entries or "broken" in entries)


def test_certificates_expiring_within_30_days_are_warned_about_not_refused() -> None:
    now = utcnow()
    soon = ROOT.sub_ca("expires soon", not_before=now - dt.timedelta(days=1823))  # 1825-day validity: 2 days left
    data = pem(ROOT.cert, soon.cert)
    assert check_bundle(data, now) == []
    warnings = expiry_warnings(data, now)
    assert len(warnings) == 1
    assert "CN=expires soon" in warnings[0]
    assert "in 1 day(s)" in warnings[0] or "in 2 day(s)" in warnings[0]
    assert expiry_warnings(pem(ROOT.cert, ISSUING.cert), now) == []


def test_sample_client_certificates_must_chain_to_the_new_bundle() -> None:
    stranger = CertificateAuthority.root("someone else").issue(client_name("bob", "node-2"))
    samples = [("alice.pem", LEAF.cert_pem().decode()), ("bob.pem", stranger.cert_pem().decode())]
    problems = check_bundle(pem(ROOT.cert, ISSUING.cert), utcnow(), samples)
    assert problems == [problems[0]]
    assert problems[0].startswith("sample bob.pem: UNTRUSTED_ISSUER")
    without_issuing = check_bundle(pem(ROOT.cert), utcnow(), samples[:1])
    assert without_issuing[0].startswith("sample alice.pem: UNTRUSTED_ISSUER")


def test_difference_names_fingerprints_added_and_removed() -> None:
    lines = difference(pem(ROOT.cert, ISSUING.cert), pem(ROOT.cert, CRL_SIGNER.cert))
    assert lines == [
        f"+ {sha256_hex(CRL_SIGNER.cert)} {CRL_SIGNER.cert.subject.rfc4514_string()}",
        f"- {sha256_hex(ISSUING.cert)} {ISSUING.cert.subject.rfc4514_string()}",
        "  1 certificate(s) unchanged",
    ]


def test_confirmation_needs_a_yes() -> None:
    assert confirm("publish?", lambda prompt: "y")
    assert confirm("publish?", lambda prompt: " YES ")
    for answer in ("", "n", "no", "yep"):
        assert not confirm("publish?", lambda prompt, a=answer: a)  # type: ignore[misc]


def test_publish_shows_the_difference_asks_and_tests_samples(
    tmp_path: Path, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from aws_stand_in import create_stand_in, describe_parameters_as_aws_does

    describe_parameters_as_aws_does(monkeypatch)
    cloudformation, s3 = (
        boto3.client(name, endpoint_url=s3_server, region_name="eu-west-1") for name in ("cloudformation", "s3")
    )
    ssm = boto3.client("ssm", endpoint_url=s3_server, region_name="eu-west-1")
    create_stand_in(cloudformation, s3, ssm, "ng-rotate")
    (tmp_path / "v1.pem").write_bytes(pem(ROOT.cert, ISSUING.cert))
    (tmp_path / "v2.pem").write_bytes(pem(ROOT.cert, CRL_SIGNER.cert))
    (tmp_path / "alice.pem").write_bytes(LEAF.cert_pem())

    def publish(*args: str) -> subprocess.CompletedProcess[str]:
        return publish_cli(tmp_path, s3_server, "ng-rotate", *args)

    def version() -> str:
        parameters = cloudformation.describe_stacks(StackName="ng-rotate")["Stacks"][0]["Parameters"]
        return next(p["ResolvedValue"] for p in parameters if p["ParameterKey"] == "TruststoreVersionParameter")

    first = publish("--bundle", "v1.pem", "--yes", "--test-client", "alice.pem")
    assert first.returncode == 0, first.stderr
    assert f"+ {sha256_hex(ISSUING.cert)}" in first.stdout
    published = version()
    assert published
    unasked = publish("--bundle", "v2.pem")  # no terminal and no --yes: nothing changes
    assert unasked.returncode == 1
    assert "--yes" in unasked.stderr
    assert f"- {sha256_hex(ISSUING.cert)}" in unasked.stdout
    assert f"+ {sha256_hex(CRL_SIGNER.cert)}" in unasked.stdout
    assert version() == published
    orphaned = publish("--bundle", "v2.pem", "--yes", "--test-client", "alice.pem")  # alice's issuer is gone
    assert orphaned.returncode == 1
    assert "sample alice.pem: UNTRUSTED_ISSUER" in orphaned.stderr
    assert version() == published
    (tmp_path / "with-leaf.pem").write_bytes(pem(ROOT.cert, LEAF.cert))
    refused = publish("--bundle", "with-leaf.pem", "--check-only")
    assert refused.returncode == 1
    assert "would skip entry 2: CN=node-1" in refused.stderr


def test_a_root_that_is_not_yet_valid_is_refused() -> None:
    """Review finding: a root valid only from next week passed --check-only; published, every client of it would
    be refused until then."""
    now = utcnow()
    later = CertificateAuthority.root("later root", not_before=now + dt.timedelta(days=7))
    problems = check_bundle(pem(later.cert), now)
    assert any("not valid before" in p and "later root" in p for p in problems), problems
    assert not [p for p in check_bundle(pem(later.cert), now + dt.timedelta(days=8)) if "not valid before" in p]


def test_a_stack_update_that_fails_leaves_the_published_version_as_it_was(s3_server: str) -> None:
    """Issue 18 item 1: when CloudFormation refuses the new truststore (API Gateway rejects it, the update rolls
    back), the SSM parameter goes back to the version the stack still uses, so the next deploy does not take
    up the refused one."""
    import boto3
    from botocore.exceptions import ClientError

    from nodegate.aws.publish import StackTruststore, point_stack_at

    class RefusingCloudFormation:
        def describe_stacks(self, StackName: str) -> dict[str, object]:
            return {"Stacks": [{"Parameters": [{"ParameterKey": "TruststoreVersionParameter"}]}]}

        def update_stack(self, **_: object) -> None:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": "refused"}}, "UpdateStack")

    ssm = boto3.client("ssm", endpoint_url=s3_server, region_name="eu-west-1")
    for before in ("v1", ""):
        ssm.put_parameter(Name="/refused/truststore-version", Type="String", Value=before or "none", Overwrite=True)
        current = StackTruststore("bucket", "truststore.pem", "/refused/truststore-version", before)
        with pytest.raises(ClientError):
            point_stack_at(RefusingCloudFormation(), ssm, "refused", current, "v2")
        value = ssm.get_parameter(Name="/refused/truststore-version")["Parameter"]["Value"]
        assert value == (before or "none")


def _foreign(kind: str) -> bytes:
    """PEM blocks that are not certificates, as operators paste them into bundles."""
    from cryptography.hazmat.primitives import serialization

    key = ROOT.key
    if kind == "pkcs8 key":
        return ROOT.key_pem()
    if kind == "traditional key":
        traditional = serialization.PrivateFormat.TraditionalOpenSSL
        return key.private_bytes(serialization.Encoding.PEM, traditional, serialization.NoEncryption())
    if kind == "encrypted key":
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    if kind == "crl":
        return ROOT.crl().public_bytes(serialization.Encoding.PEM)
    if kind == "public key":
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return b"-----BEGIN CERTIFICATE-----\n" + pem(ISSUING.cert).split(b"\n", 1)[1].rsplit(b"-----END", 1)[0]


FOREIGN = ["pkcs8 key", "traditional key", "encrypted key", "crl", "public key", "unterminated certificate"]


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.sampled_from(["issuing", "crl-signer", "comment", *FOREIGN]), max_size=5),
    at=st.integers(min_value=0, max_value=5),
)
def test_every_block_that_is_not_a_certificate_is_refused_and_never_published(entries: list[str], at: int) -> None:
    """Review finding (HIGH): `cat ca.pem ca.key > bundle.pem` passed --check-only and the key went to the public
    truststore bucket. Every non-CERTIFICATE block is refused by line (a key with its own message), and the
    published bytes are the checked certificates re-encoded, nothing else."""
    from nodegate.pki.bundle import BundleError, public_bundle

    certs = {"root": ROOT.cert, "issuing": ISSUING.cert, "crl-signer": CRL_SIGNER.cert}
    entries = [*entries[:at], "root", *entries[at:]]
    data = b"".join(
        pem(certs[e]) if e in certs else b"Bag Attributes: x\n" if e == "comment" else _foreign(e) for e in entries
    )
    problems = check_bundle(data, utcnow())
    foreign = [e for e in entries if e in FOREIGN]
    assert bool(problems) == bool(foreign), problems
    keys = [e for e in foreign if e.endswith("key") and e != "public key"]
    assert len([p for p in problems if "the truststore is public, remove the key" in p]) == len(keys)
    if foreign:
        with pytest.raises(BundleError):
            public_bundle(data, "bundle.pem")
    else:
        assert public_bundle(data, "bundle.pem") == pem(*(certs[e] for e in entries if e in certs))


def test_publish_uploads_only_the_checked_certificates(
    tmp_path: Path, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding (HIGH), through the CLI and moto S3: a CA's key after its certificate is refused with one
    line naming it, under --check-only and --yes alike, and nothing is uploaded; an accepted bundle is uploaded
    as its certificates re-encoded (text between blocks does not reach the bucket)."""
    import boto3

    from aws_stand_in import create_stand_in, describe_parameters_as_aws_does

    describe_parameters_as_aws_does(monkeypatch)
    cloudformation, s3, ssm = (
        boto3.client(name, endpoint_url=s3_server, region_name="eu-west-1") for name in ("cloudformation", "s3", "ssm")
    )
    bucket = create_stand_in(cloudformation, s3, ssm, "ng-keyed")
    (tmp_path / "keyed.pem").write_bytes(pem(ROOT.cert, ISSUING.cert) + ROOT.key_pem())
    (tmp_path / "noted.pem").write_bytes(b"Bag Attributes\n" + pem(ROOT.cert) + b"subject=x\n" + pem(ISSUING.cert))

    def publish(*args: str) -> subprocess.CompletedProcess[str]:
        return publish_cli(tmp_path, s3_server, "ng-keyed", *args)

    for extra in ("--check-only", "--yes"):
        refused = publish("--bundle", "keyed.pem", extra)
        assert refused.returncode == 1, refused.stdout
        assert "PRIVATE KEY block: the truststore is public, remove the key" in refused.stderr
        assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    published = publish("--bundle", "noted.pem", "--yes")
    assert published.returncode == 0, published.stderr
    objects = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert len(objects) == 1
    body = s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read()
    assert body == pem(ROOT.cert, ISSUING.cert)


def test_the_local_sample_store_refuses_a_bundle_with_a_key(tmp_path: Path) -> None:
    """The same class in the local product: `nodegate sample-store` serves the samples' truststore.pem from S3;
    a key in it is refused with one line, never served."""
    import socket

    (tmp_path / "crls").mkdir()
    (tmp_path / "truststore.pem").write_bytes(pem(ROOT.cert) + ROOT.key_pem())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [NODEGATE, "sample-store", "--samples", str(tmp_path), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "PRIVATE KEY block: the truststore is public, remove the key" in done.stderr
    assert "Traceback" not in done.stderr


CRL_DER = (Path(__file__).parents[2] / "certificates" / "crls" / "issuing.crl").read_bytes()


@given(tail=st.binary(min_size=1, max_size=64), pem_form=st.booleans())
@settings(max_examples=60, deadline=None)
def test_a_crl_file_is_served_only_as_its_der_re_encoding(tail: bytes, pem_form: bool) -> None:
    """RFC 5280 5 / RFC 7468 7: a CRL file is DER or one X509 CRL block, served as DER; bytes after a DER CRL
    (a key, anything) make it refused, and whatever follows a PEM block is never served."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate.pki.bundle import PEM_BEGIN, BundleError, public_crl

    crl = x509.load_der_x509_crl(CRL_DER)
    assert public_crl(CRL_DER, "c.crl") == crl.public_bytes(Encoding.DER)
    if pem_form:
        text = crl.public_bytes(Encoding.PEM) + tail
        if len(PEM_BEGIN.findall(text)) > 1:
            with pytest.raises(BundleError, match=r"^c\.crl: "):
                public_crl(text, "c.crl")
        else:
            assert public_crl(text, "c.crl") == crl.public_bytes(Encoding.DER)
    else:
        with pytest.raises(BundleError, match=r"^c\.crl: "):
            public_crl(CRL_DER + tail, "c.crl")


def _policy(tmp_path: Path, *rules: dict[str, object]) -> Path:
    path = tmp_path / "access-policy.json"
    path.write_text(json.dumps({"version": 1, "identityRules": list(rules)}))
    return path


def _by_subject(ca: CertificateAuthority, rule: str = "legacy") -> dict[str, object]:
    issuer = {"subject": ca.cert.subject.rfc4514_string()}
    return {"name": rule, "issuer": issuer, "subject": {"user": "UID", "node": "CN"}}


def test_identity_rules_must_bind_one_ca_key_each_in_the_new_bundle(tmp_path: Path) -> None:
    """A bundle that leaves a rule of the access policy in force without a CA (its clients: BAD_IDENTITY) or makes
    it ambiguous (a second CA of the same name: AMBIGUOUS_IDENTITY for both) is refused before it is published,
    with the rule named; the binding is the authorizer's own (identity_rules.bind)."""
    good = read_policy(_policy(tmp_path, _by_subject(ISSUING)))
    assert check_bundle(pem(ROOT.cert, ISSUING.cert), utcnow(), policy=good) == []
    assert check_bundle(pem(ROOT.cert), utcnow(), policy=good) == [
        "identity rules of the access policy: rule 'legacy' selects no CA in the truststore"
    ]
    namesake = ROOT.sub_ca("publish issuing")  # same subject, another key
    (ambiguous,) = check_bundle(pem(ROOT.cert, ISSUING.cert, namesake.cert), utcnow(), policy=good)
    assert ambiguous.startswith("identity rules of the access policy: rule 'legacy' selects 2 CA keys")
    by_key = {
        "name": "again",
        "issuer": {"subjectKeyIdentifier": key_id(ISSUING.cert).hex()},
        "dns": "{node}.x.example",
        "user": {"subject": "UID"},
    }
    twice = read_policy(_policy(tmp_path, _by_subject(ISSUING), by_key))
    (shared,) = check_bundle(pem(ROOT.cert, ISSUING.cert), utcnow(), policy=twice)
    assert shared == "identity rules of the access policy: rules 'again' and 'legacy' select the same CA key"


def test_sample_certificates_must_get_an_identity_under_the_rules(tmp_path: Path) -> None:
    """A sample that chains but that its CA's rule cannot read is refused with the authorizer's reason."""
    spiffe = {"name": "spire", "issuer": {"subject": ISSUING.cert.subject.rfc4514_string()}}
    policy = read_policy(_policy(tmp_path, spiffe | {"uri": "spiffe://example.org/{user}/{node}"}))
    (problem,) = check_bundle(pem(ROOT.cert, ISSUING.cert), utcnow(), [("alice.pem", LEAF.cert_pem().decode())], policy)
    assert problem.startswith("sample alice.pem: AMBIGUOUS_IDENTITY: rule spire: no uri SAN")
    readable = read_policy(_policy(tmp_path, _by_subject(ISSUING)))
    assert (
        check_bundle(pem(ROOT.cert, ISSUING.cert), utcnow(), [("alice.pem", LEAF.cert_pem().decode())], readable) == []
    )


def test_publish_check_only_refuses_a_bundle_that_unbinds_a_rule_and_names_a_bad_policy(tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(pem(ROOT.cert))
    policy = _policy(tmp_path, _by_subject(ISSUING))
    refused = publish_cli(
        tmp_path, "http://127.0.0.1:1", "s", "--bundle", "bundle.pem", "--check-only", "--policy", str(policy)
    )
    assert refused.returncode == 1
    assert "rule 'legacy' selects no CA in the truststore" in refused.stderr
    (tmp_path / "bundle.pem").write_bytes(pem(ROOT.cert, ISSUING.cert))
    passed = publish_cli(
        tmp_path, "http://127.0.0.1:1", "s", "--bundle", "bundle.pem", "--check-only", "--policy", str(policy)
    )
    assert passed.returncode == 0, passed.stderr
    policy.write_text('{"version": 2}')
    bad = publish_cli(
        tmp_path, "http://127.0.0.1:1", "s", "--bundle", "bundle.pem", "--check-only", "--policy", str(policy)
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert str(policy) in bad.stderr
    assert "Traceback" not in bad.stderr
