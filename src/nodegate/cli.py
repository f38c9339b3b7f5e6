"""The ``nodegate`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _pki(args: argparse.Namespace) -> int:
    from nodegate.devpki import DevPki, init_pki
    from nodegate.pki_server import RevocationServer

    root = Path(args.dir)
    if args.pki_command == "init":
        init_pki(root, args.url)
        print(f"PKI created in {root}; truststore: {root / 'truststore.pem'}")
        return 0
    pki = DevPki(root)
    if args.pki_command == "issue":
        path = pki.issue(args.user, args.node, days=args.days)
        print(f"issued {path} (+ .key, .p12 with password 'nodegate')")
    elif args.pki_command == "revoke":
        print(f"revoked serial {pki.revoke(args.target, args.reason)}; CRLs re-published")
    elif args.pki_command == "crl":
        for path in pki.publish_crls():
            print(f"published {path}")
    elif args.pki_command == "serve":
        port = args.port or int(pki.url.rsplit(":", 1)[1])
        server = RevocationServer(pki, port)
        print(f"CRLs at {server.url}/crl/<ca>.crl, OCSP at {server.url}/ocsp/issuing", flush=True)
        _serve(server)
    return 0


def _serve(server: Any) -> None:
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _node(args: argparse.Namespace) -> int:
    from nodegate_node.server import main

    main(["--host", args.host, "--port", str(args.port)])
    return 0


def _edge(args: argparse.Namespace) -> int:
    import tempfile

    from nodegate.devpki import ephemeral_server_files
    from nodegate.edge import EdgeServer

    with tempfile.TemporaryDirectory(prefix="nodegate-edge-") as tmp:
        cert, key = args.server_cert, args.server_key
        if not (cert and key):
            ca, cert, key = ephemeral_server_files(Path(tmp))
            print(f"no --server-cert/--server-key: using a throw-away certificate; clients need --cacert {ca}")
        server = EdgeServer(args.port, args.backend, str(cert), str(key))
        print(f"edge on {server.url} -> {args.backend}", flush=True)
        _serve(server)
    return 0


def _up(args: argparse.Namespace) -> int:
    from nodegate.stack import running_stack

    root = Path(args.dir)
    with running_stack(root, edge_port=args.port, quiet=False) as stack:
        for user, node in (("alice", "node-1"), ("bob", "node-2")):
            if not (root / "clients" / f"{user}-{node}.pem").exists():
                stack.pki.issue(user, node)
        print(f"S3 (moto)      {stack.s3_endpoint}  bucket nodegate-truststore")
        print(f"CRL/OCSP       {stack.pki.url}")
        print(f"node backend   http://127.0.0.1:{stack.node.server_address[1]}")
        print(f"edge (mTLS)    {stack.edge.url}\n")
        print("Try:")
        print(f"  {stack.curl('alice-node-1', 'node-1')}")
        print(f"  {stack.curl('alice-node-1', 'node-2')}   # 403: not alice's node")
        print(f"  nodegate pki revoke {root} {root / 'clients' / 'bob-node-2.pem'}   # then bob gets 403")
        print("\nCtrl-C stops everything.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    event = json.loads(Path(args.event).read_text())
    _load_env_vars(args.env_vars, args.function)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from nodegate_authorizer.handler import lambda_handler

    print(json.dumps(lambda_handler(event, None), indent=2))
    return 0


def _load_env_vars(path: str | None, function: str) -> None:
    """Apply a SAM env-vars file (its Parameters and the function's section) to os.environ."""
    if not path:
        return
    document = json.loads(Path(path).read_text())
    for section in ("Parameters", function):
        for key, value in (document.get(section) or {}).items():
            os.environ[key] = os.path.expandvars(str(value))


def _explain(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate.edge import ApiIdentity, build_event
    from nodegate.explain import explain, render
    from nodegate_authorizer.handler import settings_from_environment
    from nodegate_authorizer.runtime import build_runtime

    _load_env_vars(args.env_vars, args.function)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.event:
        event = json.loads(Path(args.event).read_text())
    else:
        cert = x509.load_pem_x509_certificate(Path(args.cert).read_bytes())
        path = f"/nodes/{args.node}/{args.path.lstrip('/')}"
        built = build_event(ApiIdentity(), args.method, path, "", {}, "127.0.0.1", cert.public_bytes(Encoding.DER))
        if built is None:
            raise ValueError(f"--node {args.node!r} does not make a /nodes/{{nodeId}} path")
        event = built
    report = explain(event, build_runtime(settings_from_environment()), datetime.now(UTC))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["decision"] == "Allow" else 1


def _demo(args: argparse.Namespace) -> int:
    from nodegate.demo import main

    return main(Path(args.dir) if args.dir else None)


def parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    top = argparse.ArgumentParser(prog="nodegate", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    pki = commands.add_parser("pki", help="development PKI").add_subparsers(dest="pki_command", required=True)
    init = pki.add_parser("init", help="create root, issuing CA, OCSP signer, server cert, truststore, CRLs")
    init.add_argument("dir")
    init.add_argument("--url", default="http://127.0.0.1:8480", help="where `pki serve` will listen")
    issue = pki.add_parser("issue", help="issue a client certificate")
    issue.add_argument("dir")
    issue.add_argument("--user", required=True)
    issue.add_argument("--node", required=True)
    issue.add_argument("--days", type=int, default=365)
    revoke = pki.add_parser("revoke", help="revoke a certificate (hex serial or PEM file) and re-publish CRLs")
    revoke.add_argument("dir")
    revoke.add_argument("target")
    revoke.add_argument("--reason", default="key_compromise")
    pki.add_parser("crl", help="re-publish the CRLs").add_argument("dir")
    serve = pki.add_parser("serve", help="serve CRLs and answer OCSP")
    serve.add_argument("dir")
    serve.add_argument("--port", type=int, default=0)

    node = commands.add_parser("node", help="run the node backend")
    node.add_argument("--host", default="127.0.0.1")
    node.add_argument("--port", type=int, default=8081)

    edge = commands.add_parser("edge", help="run the local mTLS edge (settings from the authorizer's env vars)")
    edge.add_argument("--port", type=int, default=8443)
    edge.add_argument("--backend", default="http://127.0.0.1:8081")
    edge.add_argument("--server-cert", help="PEM server certificate (default: a throw-away one for localhost)")
    edge.add_argument("--server-key", help="PEM key of --server-cert")

    up = commands.add_parser("up", help="start S3, CRL/OCSP, node backend and edge together")
    up.add_argument("--dir", default=".nodegate/pki")
    up.add_argument("--port", type=int, default=8443)

    invoke = commands.add_parser("invoke", help="run the authorizer on an event, like `sam local invoke -e`")
    invoke.add_argument("-e", "--event", required=True)
    invoke.add_argument("-n", "--env-vars", help='SAM env-vars JSON ({"AuthorizerFunction": {...}})')
    invoke.add_argument("--function", default="AuthorizerFunction")

    explain = commands.add_parser(
        "explain",
        help="show each step of the authorizer's decision on a certificate (exit 0 Allow, 1 Deny)",
        description="Run the authorizer's own decision, with the settings from the environment (or --env-vars), "
        "and print the path, every revocation source with its answer and age, the identity, the policy rule "
        "that applied and the response. Example: nodegate explain --cert alice.pem --node node-1 "
        "--env-vars events/env.json",
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--cert", help="PEM client certificate (an event is built as API Gateway would)")
    source.add_argument("-e", "--event", help="an authorizer event JSON file instead of --cert")
    explain.add_argument("--node", default="node-1", help="node id in the path (default: node-1)")
    explain.add_argument("--method", default="GET", help="HTTP method (default: GET)")
    explain.add_argument("--path", default="status", help="path below /nodes/{node}/ (default: status)")
    explain.add_argument("-n", "--env-vars", help='SAM env-vars JSON ({"AuthorizerFunction": {...}})')
    explain.add_argument("--function", default="AuthorizerFunction", help="section of --env-vars to apply")
    explain.add_argument("--json", action="store_true", help="print the report as JSON")

    demo = commands.add_parser("demo", help="run the end-to-end demo and print its table")
    demo.add_argument("--dir", help="keep the demo PKI here (default: a temporary directory)")
    return top


HANDLERS = {
    "pki": _pki,
    "node": _node,
    "edge": _edge,
    "up": _up,
    "invoke": _invoke,
    "explain": _explain,
    "demo": _demo,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``nodegate`` console script."""
    args = parser().parse_args(argv)
    try:
        sys.exit(HANDLERS[args.command](args))
    except (OSError, ValueError, KeyError) as exc:
        print(f"nodegate: {exc}", file=sys.stderr)
        sys.exit(2)
