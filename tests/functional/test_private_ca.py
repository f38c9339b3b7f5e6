"""AWS Private CA for operators (issue 20 item 2): `pki init/issue/revoke/list` on a Private CA directory against
moto's acm-pca (what moto 5.2.5 implements: create/describe CA, CA certificate, IssueCertificate without
ApiPassthrough, GetCertificate, RevokeCertificate), the key never in a request, the template's opt-in path, and
the authorizer reading a Private CA's partitioned CRLs from its bucket (real CRLs with critical IDPs, moto S3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import NODEGATE, ROOT
from conftest import use_authorizer_settings
from nodegate.aws.private_ca import (
    CLIENT_TEMPLATE,
    Identity,
    PrivateCaDirectory,
    api_passthrough,
    colon_serial,
    identity_problems,
    parse_san,
)
from nodegate.pki.authority import CertificateAuthority, client_name, crl_der, pem, utcnow

REGION = "eu-west-1"
SPIFFE = "spiffe://example.org/operator/alice/node/node-1"


def make_ca() -> str:
    """An ACTIVE root CA in moto, its certificate installed the way the AWS console does it."""
    import boto3

    pca = boto3.client("acm-pca", region_name=REGION)
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": "operators CA", "Organization": "nodegate"},
        },
        CertificateAuthorityType="ROOT",
        RevocationConfiguration={"CrlConfiguration": {"Enabled": True, "ExpirationInDays": 7, "S3BucketName": "pca"}},
    )["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    issued = pca.issue_certificate(
        CertificateAuthorityArn=arn,
        Csr=csr,
        SigningAlgorithm="SHA256WITHRSA",
        TemplateArn="arn:aws:acm-pca:::template/RootCACertificate/V1",
        Validity={"Value": 10, "Type": "YEARS"},
    )["CertificateArn"]
    cert = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=issued)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=cert)
    return str(arn)


@pytest.fixture
def ca(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return make_ca()


def nodegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODEGATE, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=os.environ.copy()
    )


def revoked_in_moto(arn: str) -> dict[str, Any]:
    """What the CA received through RevokeCertificate (moto's record of it)."""
    from moto.acmpca.models import acmpca_backends

    return dict(acmpca_backends["123456789012"][REGION].certificate_authorities[arn].revoked_certificates)


def test_issue_revoke_and_list_through_the_private_ca(tmp_path: Path, ca: str) -> None:
    import boto3

    ops = tmp_path / "operators"
    init = nodegate("pki", "init", str(ops), "--private-ca", ca)
    assert init.returncode == 0, init.stderr
    ca_pem = boto3.client("acm-pca").get_certificate_authority_certificate(CertificateAuthorityArn=ca)["Certificate"]
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    assert x509.load_pem_x509_certificates((ops / "truststore.pem").read_bytes()) == [ca_cert]
    checked = nodegate("publish-truststore", "--bundle", str(ops / "truststore.pem"), "--check-only")
    assert checked.returncode == 0, checked.stderr  # the chain is a bundle publish-truststore accepts

    issued = nodegate("pki", "issue", str(ops), "--user", "alice", "--node", "node-1", "--san", f"uri:{SPIFFE}")
    assert issued.returncode == 0, issued.stderr
    cert_file, key_file = ops / "clients" / "alice-node-1.pem", ops / "clients" / "alice-node-1.key"
    cert = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert key_file.stat().st_mode & 0o077 == 0
    assert cert.public_key() == key.public_key()
    assert cert.subject == client_name("alice", "node-1")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.UniformResourceIdentifier(SPIFFE)]
    ca_cert.public_key().verify(  # type: ignore[union-attr]
        cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
    )
    again = nodegate("pki", "issue", str(ops), "--user", "alice", "--node", "node-1")
    assert again.returncode == 1
    assert again.stderr.strip().endswith("exists: pass --force to replace it (revoke the old one with `pki revoke`)")

    listed = json.loads(nodegate("pki", "list", str(ops), "--json").stdout)
    assert [(row["serial"], row["subject"], row["sans"], row["revoked_at"]) for row in listed] == [
        (colon_serial(cert.serial_number), "CN=node-1,UID=alice,O=nodegate operators", [SPIFFE], None)
    ]
    assert listed[0]["certificate_arn"].startswith(f"{ca}/certificate/")
    revoked = nodegate("pki", "revoke", str(ops), str(cert_file), "--reason", "key_compromise")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked_in_moto(ca)[colon_serial(cert.serial_number)]["revocation_reason"] == "KEY_COMPROMISE"
    listed = json.loads(nodegate("pki", "list", str(ops), "--json").stdout)
    assert listed[0]["reason"] == "key_compromise"
    assert listed[0]["revoked_at"]


def test_what_a_private_ca_cannot_do_is_one_line(tmp_path: Path, ca: str) -> None:
    ops = tmp_path / "operators"
    assert nodegate("pki", "init", str(ops), "--private-ca", ca).returncode == 0
    for args, message in (
        (["revoke", str(ops), "0a:bc", "--reason", "certificate_hold"], "--reason certificate_hold: AWS Private CA"),
        (["crl", str(ops)], "the Private CA publishes its own CRLs"),
        (["issue", str(ops), "--user", "a", "--node", "n", "--san", "ftp:x"], "--san 'ftp:x': use uri:VALUE"),
        (["revoke", str(ops), "not-a-serial"], "not-a-serial: neither a certificate file nor a hex serial"),
    ):
        done = nodegate("pki", *args)
        assert done.returncode == 1, args
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr, done.stderr
    dev = nodegate("pki", "issue", str(tmp_path / "none"), "--user", "a", "--node", "n", "--san", f"uri:{SPIFFE}")
    assert dev.returncode == 1
    assert "--san and --subject need a Private CA directory" in dev.stderr
    bad = nodegate("pki", "issue", str(ops), "--user", "a", "--node", "n", "--subject", "CN")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[0].startswith("nodegate pki: error: --subject 'CN': not an RFC 4514 name")


def test_a_subject_and_sans_of_the_operators_choosing(tmp_path: Path, ca: str) -> None:
    """An email-SAN identity with a subject of its own (issue 20: identities from SANs, rules per CA)."""
    ops = tmp_path / "operators"
    assert nodegate("pki", "init", str(ops), "--private-ca", ca).returncode == 0
    args = [
        "--user",
        "alice",
        "--node",
        "node-1",
        "--subject",
        "CN=node-1,O=example",
        "--san",
        "email:alice@example.com",
    ]
    done = nodegate("pki", "issue", str(ops), *args)
    assert done.returncode == 0, done.stderr
    cert = x509.load_pem_x509_certificates((ops / "clients" / "alice-node-1.pem").read_bytes())[0]
    assert cert.subject.rfc4514_string() == "CN=node-1,O=example"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(san) == [x509.RFC822Name("alice@example.com")]
    pending = nodegate("pki", "init", str(tmp_path / "other"), "--private-ca", ca.replace(ca[-12:], "0" * 12))
    assert pending.returncode == 1
    assert len(pending.stderr.strip().splitlines()) == 1


def test_the_private_key_never_leaves_the_machine(tmp_path: Path, ca: str) -> None:
    """Every request body of an issue, captured as botocore sends it: the CSR is there, the key is not."""
    import boto3

    session = boto3.Session(region_name=REGION)
    bodies: list[bytes] = []
    session.events.register("before-send", lambda request, **_: bodies.append(bytes(request.body or b"")))
    directory = PrivateCaDirectory(tmp_path / "ops")
    directory.init(session, ca)
    identity = Identity(client_name("alice", "node-1"), (parse_san(f"uri:{SPIFFE}"),))
    path = directory.issue(session, "alice-node-1", identity, 30)
    key = serialization.load_pem_private_key(path.with_suffix(".key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    forms = [
        secret,
        secret.hex().encode(),
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        path.with_suffix(".key").read_bytes(),
    ]
    import base64

    sent = b"".join(bodies)
    assert b"Csr" in sent
    for form in forms:
        assert form not in sent
        assert base64.b64encode(form) not in sent


def test_the_passthrough_carries_the_identity_in_order() -> None:
    identity = Identity(client_name("alice", "node-1"), (parse_san(f"uri:{SPIFFE}"), parse_san("email:a@example.com")))
    assert api_passthrough(identity) == {
        "Subject": {
            "CustomAttributes": [
                {"ObjectIdentifier": "2.5.4.10", "Value": "nodegate operators"},
                {"ObjectIdentifier": "0.9.2342.19200300.100.1.1", "Value": "alice"},
                {"ObjectIdentifier": "2.5.4.3", "Value": "node-1"},
            ]
        },
        "Extensions": {
            "SubjectAlternativeNames": [{"UniformResourceIdentifier": SPIFFE}, {"Rfc822Name": "a@example.com"}]
        },
    }
    assert "Extensions" not in api_passthrough(Identity(client_name("bob", "node-2")))


def test_a_certificate_without_the_identity_asked_for_is_refused() -> None:
    """A CA that drops the passthrough (another template) or rewrites the subject: issue says so."""
    authority = CertificateAuthority.root("some CA")
    key = ec.generate_private_key(ec.SECP256R1())
    wanted = Identity(client_name("alice", "node-1"), (parse_san(f"uri:{SPIFFE}"),))
    exact = authority.issue(client_name("alice", "node-1"), key=key, sans=[x509.UniformResourceIdentifier(SPIFFE)])
    assert identity_problems(exact.cert, key, wanted) == []
    bare = authority.issue(client_name("alice", "node-1"), key=key)
    assert identity_problems(bare.cert, key, wanted) == ["its subject alternative names are []"]
    other = authority.issue(client_name("mallory", "node-1"), key=key, sans=[x509.UniformResourceIdentifier(SPIFFE)])
    assert identity_problems(other.cert, key, wanted)[0].startswith("its subject is CN=node-1,UID=mallory")
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert identity_problems(exact.cert, stranger, wanted) == ["it certifies another key"]


def test_serials_are_written_as_revoke_certificate_takes_them() -> None:
    assert colon_serial(0xABC) == "0a:bc"
    assert colon_serial(0x1234) == "12:34"
    assert colon_serial(0x8F) == "8f"


# ---------------------------------------------------------------- the template's opt-in path
TEMPLATE: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))


def test_the_template_reads_the_private_cas_crl_bucket_when_asked() -> None:
    resources = TEMPLATE["Resources"]
    env = resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CRL_STORE_URI"]["Fn::If"] == [
        "PrivateCaEnabled",
        {"Fn::Sub": "s3://${PrivateCaCrlBucket}/${PrivateCaCrlPath}/"},
        {"Fn::Sub": "s3://${TruststoreBucket}/crls/"},
    ]
    statements = resources["AuthorizerFunction"]["Properties"]["Policies"][0]["Statement"]
    private = next(s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][0] == "PrivateCaEnabled")[1]
    assert private["Resource"][1] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${PrivateCaCrlBucket}/${PrivateCaCrlPath}/*"
    }
    issuer = resources["PrivateCaIssuerPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    condition = issuer["Condition"]["StringEquals"]["acm-pca:TemplateArn"]["Fn::Sub"]
    assert condition.replace("${AWS::Partition}", "aws") == CLIENT_TEMPLATE  # the template `pki issue` asks for
    assert TEMPLATE["Conditions"]["PrivateCaEnabled"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "PrivateCaArn"}, ""]}]}
    assert {r for r, body in resources.items() if body.get("Condition") == "PrivateCaEnabled"} == {
        "PrivateCaIssuerPolicy"
    }


# ---------------------------------------------------------------- partitioned CRLs from the CA's bucket
def test_the_authorizer_uses_partitioned_crls_from_the_cas_bucket(bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two partitions under crl/<CA id>/ as AWS Private CA writes them, each CRL scoped by a critical IDP to the
    CDP of its certificates: a revocation in one partition revokes its certificate and never one of the other
    (RFC 5280 5.2.5, 6.3.3 (b)(2)(i)), even when that serial is listed there."""
    from nodegate_authorizer import handler as authorizer
    from nodegate_dev.world import decision, event

    s3, name = bucket
    authority = CertificateAuthority.root("operators CA")
    base = f"http://{name}.s3.{REGION}.amazonaws.com/crl/0123abcd-0000-4000-8000-000000000000"
    partitions = [f"{base}/{guid}.crl" for guid in ("5e1b0a4c-aaaa", "9f3c2d71-bbbb")]

    def cdp(url: str) -> tuple[x509.ExtensionType, bool]:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
        return x509.CRLDistributionPoints([point]), False

    alice = authority.issue(client_name("alice", "node-1"), with_crl_url=False, with_ocsp_url=False,
                            extensions=[cdp(partitions[0])])  # fmt: skip
    bob = authority.issue(client_name("bob", "node-2"), with_crl_url=False, with_ocsp_url=False,
                          extensions=[cdp(partitions[1])])  # fmt: skip
    now = utcnow() - dt.timedelta(minutes=1)
    for url, revoked in ((partitions[0], {bob.cert.serial_number: now}), (partitions[1], {})):
        scope = x509.IssuingDistributionPoint(
            [x509.UniformResourceIdentifier(url)], None, False, False, None, False, False
        )
        crl = authority.crl(revoked, extensions=[(scope, True)])
        s3.put_object(Bucket=name, Key=url.split(".amazonaws.com/", 1)[1], Body=crl_der(crl))
    s3.put_object(Bucket=name, Key="truststore.pem", Body=pem(authority.cert))
    use_authorizer_settings(
        monkeypatch,
        {
            "TRUSTSTORE_URI": f"s3://{name}/truststore.pem",
            "CRL_STORE_URI": f"s3://{name}/crl/",
            "REVOCATION_FETCH": "store-only",
        },
    )
    assert decision(authorizer.lambda_handler(event(bob.cert_pem(), "node-2")))[:2] == ("Allow", None)
    assert decision(authorizer.lambda_handler(event(alice.cert_pem(), "node-1")))[:2] == ("Allow", None)
    # revoke alice in her own partition
    scope = x509.IssuingDistributionPoint(
        [x509.UniformResourceIdentifier(partitions[0])], None, False, False, None, False, False
    )
    crl = authority.crl({alice.cert.serial_number: now}, extensions=[(scope, True)], number=2)
    s3.put_object(Bucket=name, Key=partitions[0].split(".amazonaws.com/", 1)[1], Body=crl_der(crl))
    authorizer.reset()  # a new container: the next invocation builds its runtime again
    assert decision(authorizer.lambda_handler(event(alice.cert_pem(), "node-1")))[:2] == ("Deny", "REVOKED")


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["uri", "email", "dns", "ftp", ""]), value=st.text(max_size=40))
def test_any_san_argument_is_a_name_or_one_line_error(kind: str, value: str) -> None:
    """`--san` text from a command line: a general name that keeps the value, or a ValueError naming the argument."""
    text = f"{kind}:{value}"
    try:
        san = parse_san(text)
    except ValueError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        assert error.startswith(f"--san {text!r}: ")
        assert "\n" not in error  # repr() escapes what the value holds: one line
        return
    assert san.value == value
    assert api_passthrough(Identity(client_name("a", "n"), (san,)))["Extensions"]["SubjectAlternativeNames"] == [
        {{"uri": "UniformResourceIdentifier", "email": "Rfc822Name", "dns": "DnsName"}[kind]: value}
    ]
