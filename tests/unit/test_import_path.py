"""What `import app` loads (issue 21, docs/decisions.md decision 17): the authorizer's cold start stays off the
modules a decision does not need, checked by module name in a fresh interpreter, not by a timer (the times are
`make bench` rows). The trimmed imports keep their meaning: the private enums are cryptography's public ones, and
the lazily built signature algorithm still signs deterministically (RFC 6979)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from cryptography.hazmat.primitives import _serialization, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from commands import ROOT
from nodegate_authorizer.assertion import AssertionSigner, Claims, signature_algorithm

NOT_AT_IMPORT = (
    "dataclasses",  # and `inspect`, which it imports: ~1 ms per class, ~10 ms for the module
    "inspect",
    "cryptography.hazmat.primitives.serialization",  # its `ssh` module imports ciphers and `dataclasses`
    "cryptography.hazmat.backends.openssl",  # loaded by ECDSA(deterministic_signing=True): first signature only
    "aws_lambda_powertools",  # decision 16
    "boto3",
    "botocore",
)


def test_import_app_loads_none_of_the_modules_a_decision_does_not_need() -> None:
    code = "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "src" / "authorizer", capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    assert "nodegate_authorizer.handler" in loaded
    assert "cryptography.x509" in loaded
    assert sorted(name for name in NOT_AT_IMPORT if name in loaded) == []


def test_the_private_enums_are_the_public_ones() -> None:
    """A cryptography upgrade that moves them fails here, not in a decision."""
    assert _serialization.Encoding is serialization.Encoding
    assert _serialization.PublicFormat is serialization.PublicFormat


def test_the_assertion_signature_is_deterministic() -> None:
    """Two signatures over the same claims at the same time with the same key are the same bytes (RFC 6979): no
    random state, so environments restored from one SnapStart snapshot cannot share a nonce."""
    authority = ec.generate_private_key(ec.SECP256R1())
    signer = AssertionSigner("local", lambda data: authority.sign(data, ec.ECDSA(hashes.SHA256())))
    claims = Claims("req-1", "GET", "/nodes/node-1/x", "node-1", "alice", "CN=alice", "default")
    now = time.time()
    first, second = signer.sign(claims, now), signer.sign(claims, now)
    assert first == second
    assert signature_algorithm().deterministic_signing
