"""The truststore bucket as the root of trust (issue 22 item 1): the access policy is read at a pinned object
version through the real handler and a real moto S3, so a rewritten or deleted policy object changes nothing
until the stack is pointed at a new version."""

from __future__ import annotations

import json

from conftest import Invoke
from nodegate_dev.world import World

POLICY = {
    "version": 1,
    "disabledUsers": ["mallory"],
    "grants": [{"user": "carol", "nodes": ["node-1"], "methods": ["GET"]}],
}
WIDENED = {"version": 1, "grants": [{"user": "mallory", "nodes": ["node-1"]}]}


def test_access_policy_is_read_at_its_pinned_version(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    pinned = s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps(POLICY).encode())["VersionId"]
    env = {
        "ACCESS_POLICY_URI": f"s3://{name}/policy.json",
        "ACCESS_POLICY_VERSION": pinned,
        "ACCESS_POLICY_REFRESH_SECONDS": "0",
    }
    mallory = world.client("mallory", "node-5").cert_pem()
    carol = world.client("carol", "node-3").cert_pem()
    assert invoke(mallory, node="node-5", env=env)[:2] == ("Deny", "POLICY_DENIED")
    # an insider with s3:PutObject rewrites the policy: the pinned version still decides
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps(WIDENED).encode())
    assert invoke(mallory, node="node-1", env=env)[:2] == ("Deny", "POLICY_DENIED")
    assert invoke(mallory, node="node-5", env=env)[:2] == ("Deny", "POLICY_DENIED")
    assert invoke(carol, node="node-1", env=env)[:2] == ("Allow", None)
    # ... or deletes it (a delete marker): the pinned version is still there
    s3.delete_object(Bucket=name, Key="policy.json")
    assert invoke(carol, node="node-1", env=env)[:2] == ("Allow", None)
    # without the pin, the rewritten object would have decided (today's behaviour without ACCESS_POLICY_VERSION)
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps(WIDENED).encode())
    unpinned = env | {"ACCESS_POLICY_VERSION": ""}
    assert invoke(mallory, node="node-1", env=unpinned)[:2] == ("Allow", None)


def test_a_missing_pinned_version_denies(world: World, invoke: Invoke, bucket) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="policy.json", Body=json.dumps(POLICY).encode())
    env = {"ACCESS_POLICY_URI": f"s3://{name}/policy.json", "ACCESS_POLICY_VERSION": "no-such-version"}
    assert invoke(world.client("carol", "node-3").cert_pem(), node="node-1", env=env)[:2] == (
        "Deny",
        "POLICY_UNAVAILABLE",
    )
