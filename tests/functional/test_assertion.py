"""The authorizer's side of the node assertion, through lambda_handler with a KMS key in a real moto server:
an Allow carries an assertion the node accepts for exactly that request, a Deny carries none, KMS is called
once per container (not per request), and a KMS that cannot sign denies instead of allowing unsigned."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from conftest import Invoke
from nodegate_authorizer.assertion import AssertionSigner, Claims
from nodegate_dev.world import World, event
from nodegate_node.assertion import AssertionVerifier, Refused, load_public_key


@pytest.fixture
def kms_key(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, AssertionVerifier]:
    """A KMS ECC_NIST_P256 signing key on the moto server, and the node's verifier for it."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", s3_server)
    kms = boto3.client("kms", endpoint_url=s3_server)
    arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    public = base64.b64encode(kms.get_public_key(KeyId=arn)["PublicKey"])
    return arn, AssertionVerifier(load_public_key(public))


def test_an_allow_carries_an_assertion_the_node_accepts_for_that_request_only(
    world: World, invoke: Invoke, kms_key: tuple[str, AssertionVerifier]
) -> None:
    arn, verifier = kms_key
    client = world.client("alice", "node-1")
    effect, _, response = invoke(client.cert_pem(), env={"ASSERTION_KEY_ID": arn})
    assert effect == "Allow"
    token = response["context"]["assertion"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[2] + "=="))
    assert claims["rid"] == event(None)["requestContext"]["requestId"]
    assert claims["exp"] - claims["iat"] == 30
    with pytest.raises(Refused, match="another request"):
        verifier.verify([token], "POST", "/nodes/node-1/status")
    assert verifier.verify([token], "GET", "/nodes/node-1/status") == {
        "subject": client.cert.subject.rfc4514_string(),
        "userId": "alice",
        "nodeId": "node-1",
        "identityRule": "default",
    }
    denied = invoke(client.cert_pem(), node="node-2", env={"ASSERTION_KEY_ID": arn})
    assert denied[:2] == ("Deny", "NODE_MISMATCH")
    assert "assertion" not in denied[2]["context"]


def test_kms_that_cannot_sign_denies(world: World, invoke: Invoke, kms_key: tuple[str, AssertionVerifier]) -> None:
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    effect, reason, response = invoke(world.client().cert_pem(), env={"ASSERTION_KEY_ID": missing})
    assert (effect, reason) == ("Deny", "ASSERTION_UNAVAILABLE")
    assert "assertion" not in response["context"]


def test_a_bad_key_id_is_a_config_error(world: World, invoke: Invoke) -> None:
    for bad in ("*", "arn:aws:kms:us-east-1:123456789012:key/*", "key id with spaces"):
        assert invoke(world.client().cert_pem(), env={"ASSERTION_KEY_ID": bad})[:2] == ("Deny", "CONFIG_INVALID")


def test_kms_signs_once_per_key_lifetime_not_per_request() -> None:
    """The hot path signs with the in-memory key; KMS certifies a new key only when the old one nears expiry."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from nodegate.local.edge import local_certifier

    calls: list[bytes] = []
    certify = local_certifier(ec.generate_private_key(ec.SECP256R1()))

    def counting(message: bytes) -> bytes:
        calls.append(message)
        return certify(message)

    signer = AssertionSigner("k", counting, key_seconds=3600)
    claims = Claims("r", "GET", "/nodes/n/x", "n", "u", "CN=n")
    tokens: set[Any] = {signer.sign(claims, 1000.0 + i).split(".")[0] for i in range(200)}
    assert (len(calls), len(tokens)) == (1, 1)
    signer.sign(claims, 1000.0 + 3600 - 10)  # the key would expire within an assertion's lifetime: renewed
    assert len(calls) == 2
