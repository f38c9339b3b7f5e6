"""The whole product on one machine: S3 and KMS (moto server), the CRL/OCSP server, the node backend and the
edge. The authorizer certifies its assertion keys with a moto KMS key; the node verifies with its public key."""

from __future__ import annotations

import errno
import json
import os
import shlex
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nodegate.local.edge import EdgeServer
from nodegate.local.upstream import UpstreamServer
from nodegate.pki.authority import utcnow
from nodegate.pki.bundle import public_bundle, public_crl
from nodegate.pki.directory import DevPki, init_pki
from nodegate.pki.server import POLL_SECONDS, RevocationServer
from nodegate_node.assertion import AssertionVerifier, load_public_key
from nodegate_node.server import NodeServer

BUCKET = "nodegate-truststore"
SAMPLES_BUCKET = "nodegate-samples"
"""The bucket of ``nodegate sample-store``: the sample PKI for `sam local invoke --env-vars events/sam-env.json`."""
DEFAULT_POLICY = {
    "version": 1,
    "disabledUsers": [],
    "grants": [{"user": "carol", "nodes": ["node-1"], "methods": ["GET"]}],
}
PROXIED_NODE = "node-3"
"""The node the local stack reverse-proxies to the example node software (nodegate.local.upstream)."""
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """Running parts and the addresses to reach them."""

    pki: DevPki
    edge: EdgeServer
    node: NodeServer
    revocation: RevocationServer
    s3_endpoint: str
    env: dict[str, str]
    stop_event: threading.Event = field(default_factory=threading.Event)

    def curl(self, client: str, node: str, route: str = "whoami") -> str:
        """A ready-to-paste curl command for a client certificate stem (``clients/alice-node-1``)."""
        stem = self.pki.root / "clients" / client
        return (
            f"curl --cacert {self.pki.root / 'root-ca.pem'} --cert {stem}.pem --key {stem}.key "
            f"{self.edge.url}/nodes/{node}/{route}"
        )


def write_env_vars(path: Path, stack: Stack, function: str = "AuthorizerFunction") -> Path:
    """The edge's authorizer settings and S3 endpoint as a SAM env-vars file (what ``--env-vars`` reads)."""
    path.write_text(json.dumps({function: stack.env | {"AWS_ENDPOINT_URL_S3": stack.s3_endpoint}}, indent=2) + "\n")
    return path


def explain_command(nodegate: Path, env_file: Path, cert: Path, node: str) -> str:
    """A shell command that explains the decision the stack's edge makes for ``cert`` calling ``node``: its
    settings (loopback allowance, policy) from ``env_file``, moto's placeholder credentials in front."""
    credentials = " ".join(f"{name}={value}" for name, value in S3_ENV.items())
    quoted = " ".join(shlex.quote(str(part)) for part in (nodegate, "explain", "--cert", cert, "--node", node))
    return f"{credentials} {quoted} --env-vars {shlex.quote(str(env_file))}"


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def _versioned_bucket(s3: Any, bucket: str) -> None:
    """Create ``bucket`` with versioning on, unless it exists."""
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _local_s3(host: str, port: int) -> Any:
    """A started moto server on ``host:port`` (request logging off); the bind error names the port."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(port: int) -> None:
        with socket.socket() as probe:  # moto binds in its own thread and waits forever when that fails
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server does
            probe.bind((host, port))
        moto.start()

    bind_server("local S3", port, start, host=host)
    return moto


def assertion_key() -> tuple[str, bytes]:
    """A KMS key (ECC_NIST_P256, SIGN_VERIFY) for the authorizer's assertions: its ARN and base64 DER public key."""
    import base64

    import boto3

    kms = boto3.client("kms")
    arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    return arn, base64.b64encode(kms.get_public_key(KeyId=arn)["PublicKey"])


def publish(pki: DevPki, policy: dict[str, Any] | None) -> str:
    """Upload truststore, CRL store and policy to the versioned bucket; return the truststore version."""
    s3 = _s3()
    _versioned_bucket(s3, BUCKET)
    version = s3.put_object(Bucket=BUCKET, Key="truststore.pem", Body=_truststore(pki.root / "truststore.pem"))
    sync_crls(pki)
    if policy is not None:
        s3.put_object(Bucket=BUCKET, Key="policy/access-policy.json", Body=json.dumps(policy).encode())
    return str(version.get("VersionId", ""))


def _truststore(path: Path) -> bytes:
    """The bundle's certificates, re-encoded (a private key or other block in it is refused, never served)."""
    return public_bundle(path.read_bytes(), str(path))


def _crls(directory: Path) -> dict[str, bytes]:
    """Every ``*.crl`` file in ``directory`` by name, re-encoded as DER; all parsed before any is uploaded (a key
    or anything else in one is refused, never served)."""
    return {path.name: public_crl(path.read_bytes(), str(path)) for path in sorted(directory.glob("*.crl"))}


def sync_crls(pki: DevPki) -> None:
    """Copy the published CRLs into the CRL store prefix."""
    s3 = _s3()
    for name, crl in _crls(pki.root / "crl").items():
        s3.put_object(Bucket=BUCKET, Key=f"crls/{name}", Body=crl)


@contextmanager
def running_stack(
    directory: Path,
    *,
    edge_port: int = 0,
    node_port: int = 0,
    pki_port: int | None = None,
    policy: dict[str, Any] | None = DEFAULT_POLICY,
    extra_env: dict[str, str] | None = None,
    quiet: bool = True,
    mirror_seconds: float = 0.0,
) -> Iterator[Stack]:
    """Start every part (creating the PKI in ``directory`` if needed); stop them all on exit. With
    ``mirror_seconds`` the CRL mirror runs against the dev PKI server now and then that often."""
    import logging

    from nodegate_authorizer.handler import logger as authorizer_logger

    authorizer_logger.setLevel(logging.WARNING if quiet else logging.INFO)
    if not (directory / "config.json").exists():
        init_pki(directory, f"http://127.0.0.1:{pki_port or free_port()}")
    pki = DevPki(directory)
    pki.publish_crls()  # re-signed at every start: yesterday's CRLs have expired
    revocation = bind_server("CRL/OCSP server", pki.port, lambda port: RevocationServer(pki, port)).start()
    s3_port = free_port()
    moto = _local_s3("127.0.0.1", s3_port)
    local = f"http://127.0.0.1:{s3_port}"
    process_env = S3_ENV | {
        "AWS_ENDPOINT_URL_S3": local,
        "AWS_ENDPOINT_URL_KMS": local,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    saved = {key: os.environ.get(key) for key in process_env}
    os.environ.update(process_env)
    key_arn, public_key = assertion_key()
    verifier = AssertionVerifier(load_public_key(public_key))
    upstream = UpstreamServer().start()
    routes = {PROXIED_NODE: upstream.url}
    node = bind_server("node backend", node_port, lambda port: NodeServer(verifier, "127.0.0.1", port, routes))
    threading.Thread(target=node.serve_forever, args=(POLL_SECONDS,), name="node", daemon=True).start()
    edge: EdgeServer | None = None
    try:
        publish(pki, policy)
        env = {
            "TRUSTSTORE_URI": f"s3://{BUCKET}/truststore.pem",
            "TRUSTSTORE_REFRESH_SECONDS": "5",
            "CRL_STORE_URI": f"s3://{BUCKET}/crls/",
            "CRL_STORE_REFRESH_SECONDS": "5",
            "REVOCATION_MODE": "hard-fail",
            "REVOCATION_CACHE_SECONDS": "5",
            "FETCH_TIMEOUT_SECONDS": "1.0",
            "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "ASSERTION_KEY_ID": key_arn,
        }
        if policy is not None:
            env["ACCESS_POLICY_URI"] = f"s3://{BUCKET}/policy/access-policy.json"
        env |= extra_env or {}
        logger = (lambda entry: None) if quiet else None
        backend = f"http://127.0.0.1:{node.server_address[1]}"
        edge = bind_server(
            "edge",
            edge_port,
            lambda port: EdgeServer(
                port, backend, str(directory / "server.pem"), str(directory / "server.key"), env=env, access_log=logger
            ),
        ).start()
        stack = Stack(pki, edge, node, revocation, f"http://127.0.0.1:{s3_port}", env)
        syncer = threading.Thread(target=_keep_crls_synced, args=(stack,), name="crl-sync", daemon=True)
        syncer.start()
        if mirror_seconds:
            mirror = _mirror_periodically(stack, quiet=quiet)
            threading.Thread(
                target=_repeat, args=(stack, mirror, mirror_seconds), name="crl-mirror", daemon=True
            ).start()
        yield stack
        stack.stop_event.set()
    finally:
        for server in (edge, node, upstream, revocation):
            if server is not None:
                server.shutdown()
                server.server_close()
        moto.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def sample_store(samples: Path, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """A local S3 (moto server) whose versioned bucket ``nodegate-samples`` holds ``samples/truststore.pem`` and
    ``samples/crls/*.crl`` under the keys ``events/sam-env.json`` names; yields its endpoint URL."""
    import boto3

    moto = _local_s3(host, port)
    endpoint = f"http://{host}:{port}"
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=S3_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        _versioned_bucket(s3, SAMPLES_BUCKET)
        s3.put_object(Bucket=SAMPLES_BUCKET, Key="truststore.pem", Body=_truststore(samples / "truststore.pem"))
        for name, crl in _crls(samples / "crls").items():
            s3.put_object(Bucket=SAMPLES_BUCKET, Key=f"crls/{name}", Body=crl)
        yield endpoint
    finally:
        moto.stop()


T = TypeVar("T")


def bind_server(role: str, port: int, make: Callable[[int], T], *, host: str = "127.0.0.1") -> T:
    """``make(port)``, with an error that names the address, what it was for and the fix when it cannot bind."""
    try:
        return make(port)
    except OSError as exc:
        fix = "stop what uses it or choose another port" if exc.errno == errno.EADDRINUSE else "check the address"
        message = f"cannot listen on {host}:{port} for the {role}: {exc.strerror or exc}; {fix}"
        raise OSError(exc.errno, message) from None


def _keep_crls_synced(stack: Stack) -> None:
    """Re-sign the CRLs once half their validity has passed (``DevPki.crls_due``), and upload them again
    whenever they change (this loop, ``nodegate pki revoke`` or ``pki crl``). OCSP answers need no timer:
    the CRL/OCSP server signs each one when it is asked."""
    seen: dict[Path, int] = {}
    while not stack.stop_event.wait(1.0):
        try:
            if stack.pki.crls_due(utcnow()):
                stack.pki.publish_crls()
        except Exception as exc:  # noqa: BLE001 - try again next round; the authorizer fails closed meanwhile
            print(f"CRL re-signing failed: {exc}", flush=True)
        for path in (stack.pki.root / "crl").glob("*.crl"):
            mtime = path.stat().st_mtime_ns
            if seen.setdefault(path, mtime) != mtime:
                seen[path] = mtime
                try:
                    sync_crls(stack.pki)
                except Exception as exc:  # noqa: BLE001 - keep syncing; the authorizer fails closed meanwhile
                    print(f"CRL sync failed: {exc}", flush=True)


def _mirror_periodically(stack: Stack, *, quiet: bool) -> Callable[[], None]:
    """One CRL mirror run against the dev PKI server (what CrlMirrorFunction does in AWS); prints what changed."""
    from datetime import UTC, datetime

    from nodegate_authorizer.mirror_handler import run_from_environment

    env = stack.env | {"CRL_MIRROR_URLS": f"{stack.pki.url}/crl/issuing.crl"}

    def run() -> None:
        for line in run_from_environment(env, datetime.now(UTC)).lines():
            if not quiet and not line.startswith(("unchanged", "issuer")):
                print(f"CRL mirror: {line}", flush=True)

    run()
    return run


def _repeat(stack: Stack, job: Callable[[], None], every: float) -> None:
    while not stack.stop_event.wait(every):
        job()
