"""Certificate tokens (memo keys that cost nothing to hash): stable per object, never shared by two objects,
never reused, and a bounded table."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fixed import client, root, sub
from nodegate_authorizer import certificates
from nodegate_authorizer.certificates import token


def test_one_object_one_token_and_a_copy_another() -> None:
    cert = client(sub(root())).cert
    copy = x509.load_der_x509_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert copy == cert
    assert token(cert) == token(cert)
    assert token(copy) != token(cert)  # equal certificates, other object: a memo miss, never a wrong hit


def test_the_table_is_bounded_and_tokens_are_never_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificates, "MAX_TOKENS", 4)
    ca = sub(root())
    certs = [client(ca, user=f"u{n}").cert for n in range(10)]
    seen = [token(cert) for cert in certs]
    assert len(certificates._tokens) <= 4
    assert len(set(seen)) == len(seen)
    again = token(certs[0])  # forgotten when the table started again: a new token
    assert again not in seen
