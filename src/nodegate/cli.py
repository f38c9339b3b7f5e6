"""nodegate on one machine: a development PKI, the node backend, the mTLS edge, the whole stack, and the
authorizer run on events or certificates the way AWS would run it."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from nodegate_node.json_text import parse_json


def read_json(path: str) -> Any:
    """The JSON file at ``path``; errors name the file (``nodegate_node.json_text``)."""
    return parse_json(Path(path).read_bytes(), path)


def _checked_policy(path: str) -> Any:
    """The access policy file, checked the way the authorizer will read it (``up`` refuses to start otherwise)."""
    from nodegate.aws.publish import PublishError, read_policy

    policy = read_json(path)
    try:
        read_policy(Path(path))
    except PublishError as exc:
        raise ValueError(str(exc)) from None
    return policy


def _check_key_pair(cert: str, key: str) -> None:
    """Fail with one line naming the files when they are not a PEM certificate and its key."""
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ValueError(f"{cert} and {key}: not a PEM certificate and its private key ({exc.reason or exc})") from None


def _pki(args: argparse.Namespace) -> int:
    from cryptography import x509

    from nodegate.aws.private_ca import PrivateCaDirectory
    from nodegate.local.stack import bind_server
    from nodegate.pki.directory import DevPki, check_new_directory, init_pki
    from nodegate.pki.server import RevocationServer

    root = Path(args.dir)
    if args.private_ca or PrivateCaDirectory.is_one(root):
        return _private_ca(args, root)
    if args.san or args.subject:
        raise ValueError(
            "--san and --subject need a Private CA directory (pki init --private-ca): the dev PKI issues UID and CN"
        )
    if args.pki_command == "init":
        check_new_directory(root)
        init_pki(root, args.url)
        print(f"PKI created in {root}; truststore: {root / 'truststore.pem'}")
        return 0
    pki = DevPki(root)
    if args.pki_command == "issue":
        path = pki.issue(args.user, args.node, days=args.days, force=args.force)
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        print(f"issued {path} (+ .key, .p12 with password 'nodegate')")
        print(f"serial {cert.serial_number:x}, valid until {cert.not_valid_after_utc.isoformat()}")
    elif args.pki_command == "revoke":
        serial, newly = pki.revoke(args.target, args.reason)
        print(f"{'revoked' if newly else 'already revoked:'} serial {serial}; CRLs re-published")
    elif args.pki_command == "list":
        _list(pki, as_json=args.json)
    elif args.pki_command == "crl":
        for path in pki.publish_crls():
            print(f"published {path}")
    elif args.pki_command == "serve":
        pki.check()  # a directory the other commands refuse is refused here at start, not at each request
        server = bind_server("CRL/OCSP server", args.port or pki.port, lambda port: RevocationServer(pki, port))
        print(f"CRLs at {server.url}/crl/<ca>.crl, OCSP at {server.url}/ocsp/issuing", flush=True)
        _serve(server)
    return 0


def _private_ca(args: argparse.Namespace, root: Path) -> int:
    """``pki`` on a directory of operators' certificates from AWS Private CA."""
    from nodegate.aws.private_ca import Identity, PrivateCaDirectory, parse_san
    from nodegate.aws.session import arn_region, open_session
    from nodegate.pki.authority import client_name
    from nodegate.pki.directory import check_new_directory

    directory = PrivateCaDirectory(root)
    if args.pki_command == "init":
        check_new_directory(root)
        truststore = directory.init(
            open_session(args.region or arn_region(args.private_ca), args.profile), args.private_ca
        )
        print(f"{root} issues from {args.private_ca}; truststore (its chain): {truststore}")
        print(f"publish it: nodegate publish-truststore --bundle {truststore} --stack <stack>")
        return 0
    if args.private_ca:
        raise ValueError(f"{root} already names its Private CA in private-ca.json: drop --private-ca")
    session = open_session(args.region or directory.config.get("region"), args.profile)
    if args.pki_command == "issue":
        subject = _subject(args.subject) if args.subject else client_name(args.user, args.node)
        identity = Identity(subject, tuple(parse_san(san) for san in args.san))
        path = directory.issue(session, f"{args.user}-{args.node}", identity, args.days, force=args.force)
        print(f"issued {path} (+ .key, made here and never sent)")
    elif args.pki_command == "revoke":
        serial, newly = directory.revoke(session, args.target, args.reason)
        print(f"revoked serial {serial} through the CA" if newly else f"serial {serial} was already revoked")
    elif args.pki_command == "list":
        _list(directory, as_json=args.json)
    else:
        raise ValueError(f"pki {args.pki_command}: the Private CA publishes its own CRLs (its S3 bucket)")
    return 0


def _subject(text: str) -> Any:
    """``--subject``: an RFC 4514 string, e.g. ``CN=node-1,UID=alice,O=example``."""
    from cryptography import x509

    try:
        return x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise ValueError(f"--subject {text!r}: not an RFC 4514 name ({exc})") from None


def _list(pki: Any, *, as_json: bool) -> None:
    from dataclasses import asdict

    rows = pki.listing()
    if as_json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return
    print(f"{'serial':<42} {'subject':<48} {'valid until':<26} revoked")
    for row in rows:
        revoked = f"{row.revoked_at} ({row.reason})" if row.revoked_at else "-"
        print(f"{row.serial:<42} {row.subject[:48]:<48} {(row.not_after or '?'):<26} {revoked}")


def _serve(server: Any) -> None:
    """Serve until Ctrl-C or SIGTERM, then close: the edge's ``server_close`` first lets its requests in flight
    finish (their access log lines included)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, systemd, a test's ``terminate()``) stops a command the way Ctrl-C does."""
    raise KeyboardInterrupt


def _node(args: argparse.Namespace) -> int:
    from cryptography.exceptions import UnsupportedAlgorithm

    from nodegate.local.stack import bind_server
    from nodegate_node.assertion import AssertionVerifier, load_public_key
    from nodegate_node.server import NodeServer, load_routes

    routes = load_routes(args.routes)  # a ValueError naming the file and the entry
    try:
        verifier = AssertionVerifier(load_public_key(Path(args.assertion_key).read_bytes()))
    except (OSError, ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{args.assertion_key}: not a public key ({exc}); give the edge's or KMS's key") from None
    server = bind_server(
        "node backend", args.port, lambda port: NodeServer(verifier, args.host, port, routes), host=args.host
    )
    print(f"node backend on http://{args.host}:{server.server_address[1]}", flush=True)
    _serve(server)
    return 0


def _edge(args: argparse.Namespace) -> int:
    import tempfile

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from nodegate.local.edge import EdgeServer
    from nodegate.local.stack import bind_server
    from nodegate.pki.directory import ephemeral_server_files

    with tempfile.TemporaryDirectory(prefix="nodegate-edge-") as tmp:
        cert, key = args.server_cert, args.server_key
        if not (cert and key):
            ca, cert, key = ephemeral_server_files(Path(tmp))
            print(f"no --server-cert/--server-key: using a throw-away certificate; clients need --cacert {ca}")
        assertion_key = None
        if not os.environ.get("ASSERTION_KEY_ID"):
            assertion_key = ec.generate_private_key(ec.SECP256R1())
            public = Path(tmp) / "assertion-key.pem"
            public.write_bytes(
                assertion_key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        _check_key_pair(str(cert), str(key))
        server = bind_server(
            "edge",
            args.port,
            lambda port: EdgeServer(port, args.backend, str(cert), str(key), assertion_key=assertion_key),
        )
        print(f"edge on {server.url} -> {args.backend}", flush=True)
        if assertion_key is not None:
            print(f"no ASSERTION_KEY_ID: throw-away assertion key; node: --assertion-key {public}", flush=True)
        _serve(server)
    return 0


def _up(args: argparse.Namespace) -> int:
    from nodegate.local.cpu import one_cpu
    from nodegate.local.stack import DEFAULT_POLICY, explain_command, running_stack, write_env_vars
    from nodegate.pki.directory import check_new_directory

    root = Path(args.dir)
    policy = _checked_policy(args.policy) if args.policy else DEFAULT_POLICY
    if not (root / "config.json").exists():
        check_new_directory(root)
    nodegate = Path(sys.executable).parent / "nodegate"
    with (
        one_cpu(),
        running_stack(
            root, edge_port=args.port, quiet=False, policy=policy, mirror_seconds=args.mirror_seconds
        ) as stack,
    ):
        for user, node in (("alice", "node-1"), ("bob", "node-2"), ("carol", "node-3")):
            if not (root / "clients" / f"{user}-{node}.pem").exists():
                stack.pki.issue(user, node)
        print(f"S3 (moto)      {stack.s3_endpoint}  bucket nodegate-truststore")
        print(f"CRL/OCSP       {stack.pki.url}")
        print(f"node backend   http://127.0.0.1:{stack.node.server_address[1]}")
        print(f"edge (mTLS)    {stack.edge.url}\n")
        print("Try:")
        print(f"  {stack.curl('alice-node-1', 'node-1')}")
        print(f"  {stack.curl('alice-node-1', 'node-2')}   # 403: not alice's node")
        if args.policy is None:
            print(f"  {stack.curl('carol-node-3', 'node-1')}   # 200: the demo policy lets carol GET node-1")
        bob = root / "clients" / "bob-node-2.pem"
        if not any(row.revoked_at for row in stack.pki.listing() if row.file == str(bob)):
            print(f"  {stack.curl('bob-node-2', 'node-2')}")
            print(f"  {nodegate} pki revoke {root} {bob}   # then bob's call gets 403 REVOKED")
        env_file = write_env_vars(root / "env.json", stack)
        print(f"  {explain_command(nodegate, env_file, root / 'clients' / 'alice-node-1.pem', 'node-2')}   # why 403")
        print("\nCtrl-C stops everything.", flush=True)
        _wait_for_interrupt()
    return 0


def _sample_store(args: argparse.Namespace) -> int:
    from nodegate.local.stack import sample_store

    with sample_store(Path(args.samples), args.port, args.host) as endpoint:
        print(f"sample truststore and CRLs from {args.samples} in s3://nodegate-samples at {endpoint}")
        print("In another shell (Linux; on Docker Desktop set AWS_ENDPOINT_URL_S3 to host.docker.internal):")
        print("  make build && .venv/bin/sam local invoke AuthorizerFunction -e events/allow.json \\")
        print("      --env-vars events/sam-env.json --docker-network host")
        print("Ctrl-C stops it.", flush=True)
        _wait_for_interrupt()
    return 0


def _invoke(args: argparse.Namespace) -> int:
    event = parse_json(sys.stdin.buffer.read(), "standard input") if args.event == "-" else read_json(args.event)
    _load_env_vars(args.env_vars, args.function)
    if not os.environ.get("TRUSTSTORE_URI"):
        print(
            "nodegate invoke: note: TRUSTSTORE_URI is not set (pass --env-vars events/env.json or export it); "
            "the authorizer denies every request with CONFIG_INVALID",
            file=sys.stderr,
        )
    from nodegate_authorizer.handler import lambda_handler

    print(json.dumps(lambda_handler(event, None), indent=2))
    return 0


def _mirror(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    _load_env_vars(args.env_vars, args.function)
    from nodegate_authorizer.mirror_handler import run_from_environment

    report = run_from_environment(os.environ, datetime.now(UTC), dry_run=args.dry_run)
    if report.error:
        print(f"nodegate mirror: error: {report.error}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def _load_env_vars(path: str | None, function: str) -> None:
    """Give this process the function's environment the way `sam local invoke` builds it (``nodegate.local.samlocal``):
    template values, then the shell's, then the env-vars file's (``$PWD`` expanded); undeclared names dropped.
    Metrics stay off unless the shell or the file turns them on (they would print into the output)."""
    from nodegate.local.samlocal import declared_variables, function_environment, functions, overrides, read_template

    template = read_template()
    if function not in functions(template):
        raise ValueError(
            f"function {function!r} is not in template.yaml (its functions: {', '.join(functions(template))})"
        )
    declared = declared_variables(template, function)
    env_file = read_json(path) if path else {}
    try:
        given = overrides(env_file, function)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    for name in sorted(set(given) - set(declared)):
        print(
            f"nodegate: note: {name} is not declared for {function} in template.yaml; SAM drops it, so does nodegate",
            file=sys.stderr,
        )
    given = {name: os.path.expandvars(value) for name, value in given.items()}
    environment = function_environment(declared, given, os.environ)
    metrics_chosen = "POWERTOOLS_METRICS_DISABLED" in given or "POWERTOOLS_METRICS_DISABLED" in os.environ
    os.environ.update({name: environment[name] for name in declared})
    if not metrics_chosen:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


def _explain(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from nodegate.diagnostics.explain import explain, for_node, render
    from nodegate.local.edge import ApiIdentity, build_event
    from nodegate_authorizer.certificates import PARSE_ERRORS
    from nodegate_authorizer.runtime import build_runtime
    from nodegate_authorizer.settings import load_settings

    if args.stack:
        environment: Mapping[str, str] = _deployed_environment(args.stack, args.function, args.region, args.profile)
    else:
        _load_env_vars(args.env_vars, args.function)
        environment = os.environ
    if args.event:
        event = read_json(args.event)
        if args.node is not None:
            event = for_node(event, args.node)
    else:
        try:
            cert = x509.load_pem_x509_certificate(Path(args.cert).read_bytes())
        except PARSE_ERRORS as exc:
            raise ValueError(f"{args.cert}: not a PEM certificate ({exc}); pass the client's .pem file") from None
        path = f"/nodes/{args.node or 'node-1'}/{args.path.lstrip('/')}"
        built = build_event(ApiIdentity(), args.method, path, "", {}, "127.0.0.1", cert.public_bytes(Encoding.DER))
        if built is None:
            raise ValueError(f"--node {args.node!r} does not make a /nodes/{{nodeId}} path")
        event = built
    report = explain(event, lambda: build_runtime(load_settings(environment)), datetime.now(UTC))
    print(json.dumps(report, indent=2) if args.json else render(report))
    if args.stack and report.get("reason") in ("TRUSTSTORE_UNAVAILABLE", "POLICY_UNAVAILABLE"):
        print(
            "nodegate explain: note: the sources were read with your credentials, the function reads them with its "
            "role; if you may not read them (s3:GetObject, s3:GetObjectVersion), the function may still",
            file=sys.stderr,
        )
    return 0 if report["decision"] == "Allow" else 1


def _deployed_environment(stack: str, function: str, region: str | None, profile: str | None) -> dict[str, str]:
    """The environment the stack's authorizer runs with; the authorizer's own S3 reads then use the same
    credentials and region (boto3's default session)."""
    from nodegate.aws.session import make_default, open_session
    from nodegate.aws.stack_settings import deployed_authorizer

    session = open_session(region, profile)
    deployed = deployed_authorizer(session, stack, function)
    make_default(session)
    print(f"nodegate explain: settings of {deployed.function} (stack {stack}, {session.region_name})", file=sys.stderr)
    for note in deployed.notes:
        print(f"nodegate explain: note: {note}", file=sys.stderr)
    return deployed.environment


def _publish(args: argparse.Namespace) -> int:
    from nodegate.aws.publish import publish

    return publish(
        args.bundle,
        stack=args.stack,
        region=args.region,
        profile=args.profile,
        check_only=args.check_only,
        yes=args.yes,
        samples=args.test_client,
        policy=args.policy,
    )


def _preflight(args: argparse.Namespace) -> int:
    from nodegate.aws.preflight import preflight
    from nodegate.aws.session import open_session, sam_deploy_configuration
    from nodegate.local.samlocal import read_template

    configuration, overrides = sam_deploy_configuration(Path(args.config_file), args.parameter_overrides)
    declared = read_template().get("Parameters", {})
    parameters = {name: str(body["Default"]) for name, body in declared.items() if "Default" in body} | overrides
    stack = args.stack or str(configuration.get("stack_name") or "nodegate")
    session = open_session(args.region or configuration.get("region"), args.profile or configuration.get("profile"))
    checks = preflight(session, stack, parameters, declared)
    for check in checks:
        lines = [f"FAIL  {check.name}: {problem}" for problem in check.problems]
        print("\n".join(lines or [f"ok    {check.name}: {check.found}"]))
    failed = [check.name for check in checks if check.problems]
    print(f"preflight: {'not ready: fix ' + ', '.join(failed) if failed else 'ready to deploy'} (stack {stack})")
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    from nodegate.local.demo import main

    return main(Path(args.dir) if args.dir else None)


EXAMPLES = """examples:
  nodegate demo                                   the whole product end to end, with a table of results
  nodegate up --policy policy.json                S3, CRL/OCSP, node backend and edge until Ctrl-C
  nodegate pki init ./pki                         a development PKI (never for production)
  nodegate pki issue ./pki --user alice --node node-1
  nodegate explain --cert ./pki/clients/alice-node-1.pem --node node-1 --env-vars events/env.json
  nodegate explain --cert alice.pem --node node-1 --stack nodegate   as the deployed authorizer decides
  nodegate invoke -e events/allow.json --env-vars events/env.json
exit codes: 0 success (explain: Allow), 1 the command failed (explain: Deny), 2 usage error (the command line is
wrong: a port outside 0-65535, a bad URL or choice), 130 interrupted (Ctrl-C) before it finished; a server
(up, edge, node, pki serve, sample-store) stopped by Ctrl-C or SIGTERM once it serves exits 0: that is how it ends"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point at --help."""

    def error(self, message: str) -> NoReturn:
        """``nodegate up: error: argument --port: ... (see nodegate up --help)``, exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


DIGITS = re.compile(r"[0-9]+")
"""A number on the command line is plain ASCII digits: no sign, no spaces, no ``_``, no other scripts' digits."""


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0: any free port, or the command's own default)."""
    if not DIGITS.fullmatch(text) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0-65535")
    return int(text)


def day_count(text: str) -> int:
    """A validity in days: at least 1 (whether the CA outlives it is the PKI's to say)."""
    if not DIGITS.fullmatch(text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days: use 1 or more")
    return int(text)


def period(text: str) -> float:
    """Seconds between runs: 0 (never), or 1-86400 seconds, written as digits with an optional decimal part."""
    if not re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text) or (float(text) != 0 and not 1 <= float(text) <= 86400):
        raise argparse.ArgumentTypeError(f"{text!r} is not a period: use 0 (never) or 1-86400 seconds")
    return float(text)


def node_id(text: str) -> str:
    """A node id as it goes into ``/nodes/{nodeId}``: not empty (an unset shell variable is not ``node-1``), and
    one path segment (a ``/``, ``?`` or ``#`` would make the path name another node, or none)."""
    if not text or any(c in text for c in "/?#"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a node id: name one node, without '/', '?' or '#', e.g. --node node-1"
        )
    return text


def base_url(text: str) -> str:
    """``http://host[:port]``: the base of the CRL and OCSP URLs a new PKI writes into its certificates."""
    from nodegate.pki.directory import is_base_url

    if not is_base_url(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a base URL: use http://host[:port] with no path or trailing slash, "
            "e.g. http://127.0.0.1:8480"
        )
    return text


def _command(commands: Any, name: str, summary: str, description: str = "") -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=description or summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    return parser


def _settings_arguments(parser: argparse.ArgumentParser) -> None:
    """--env-vars and --function, as `sam local invoke` takes them."""
    parser.add_argument("-n", "--env-vars", help='SAM env-vars JSON ({"AuthorizerFunction": {...}})')
    parser.add_argument("--function", default="AuthorizerFunction", help="function (logical id in template.yaml)")


def parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    from importlib.metadata import version

    from nodegate.pki.directory import REASONS

    top = Parser(
        prog="nodegate", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--version", action="version", version=f"nodegate {version('nodegate')}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pki_parser = _command(commands, "pki", "development PKI: create, issue, revoke, list, publish CRLs, serve")
    pki = pki_parser.add_subparsers(dest="pki_command", required=True, metavar="PKI_COMMAND")
    directory = "the PKI directory (made by `nodegate pki init`)"
    init = _command(pki, "init", "create root and issuing CA, OCSP signer, server certificate, truststore, CRLs")
    init.add_argument("dir", help="a new directory for the PKI")
    init.add_argument(
        "--url", type=base_url, default="http://127.0.0.1:8480", help="base URL the certificates name for CRL/OCSP"
    )
    init.add_argument(
        "--private-ca",
        metavar="ARN",
        help="an AWS Private CA instead of a dev PKI: the directory keeps operators' keys and a ledger",
    )
    issue = _command(
        pki,
        "issue",
        "issue a client certificate (UID=user, CN=node) as .pem, .key and .p12",
        "Issue a client certificate. An existing one for the same user and node is replaced only "
        "with --force, which also revokes it. Example: nodegate pki issue ./pki --user alice "
        "--node node-1",
    )
    issue.add_argument("dir", help=directory)
    issue.add_argument("--user", required=True, help="user id (UID): letters, digits, '.', '_', '-'")
    issue.add_argument("--node", required=True, help="node id (CN): letters, digits, '.', '_', '-'")
    issue.add_argument("--days", type=day_count, default=365, help="validity in days (at least 1)")
    issue.add_argument("--force", action="store_true", help="replace an existing certificate and revoke it")
    issue.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="KIND:VALUE",
        help="Private CA: a subject alternative name, uri:spiffe://..., email:... or dns:... (repeatable)",
    )
    issue.add_argument(
        "--subject",
        metavar="RFC4514",
        help="Private CA: the whole subject instead of O=nodegate operators,UID=user,CN=node, e.g. CN=node-1,O=example",
    )
    revoke = _command(
        pki,
        "revoke",
        "revoke a certificate and re-publish the CRLs (revoking again changes nothing)",
        "Revoke a certificate by its PEM file or hex serial. Example: nodegate pki revoke ./pki "
        "./pki/clients/bob-node-2.pem",
    )
    revoke.add_argument("dir", help=directory)
    revoke.add_argument("target", help="the certificate's PEM file, or its serial in hex")
    revoke.add_argument(
        "--reason",
        default="key_compromise",
        choices=sorted(REASONS),
        metavar="REASON",
        help=f"reason code written into the CRL entry and OCSP answers: {', '.join(sorted(REASONS))} "
        "(unspecified is written as no code, RFC 5280 5.3.1)",
    )
    listing = _command(pki, "list", "list issued certificates: serial, subject, expiry, revocation")
    listing.add_argument("dir", help=directory)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    crl = _command(pki, "crl", "re-publish the CRLs (they are valid for an hour)")
    crl.add_argument("dir", help=directory)
    serve = _command(pki, "serve", "serve the CRLs over HTTP and answer OCSP")
    serve.add_argument("dir", help=directory)
    serve.add_argument("--port", type=port_number, default=0, help="port to listen on (0: the one in the PKI's --url)")
    for command in (init, issue, revoke, listing, crl, serve):
        command.set_defaults(private_ca=None, san=[], subject=None)
        command.add_argument("--region", help="Private CA: AWS region (default: the directory's, else the CA's)")
        command.add_argument("--profile", help="Private CA: AWS profile")

    node = _command(commands, "node", "run the node backend (believes only the authorizer's signed assertion)")
    node.add_argument("--host", default="127.0.0.1", help="address to listen on")
    node.add_argument("--port", type=port_number, default=8081, help="port to listen on")
    node.add_argument("--routes", help='JSON file {"node-id": "http://host:port"}: nodes to reverse-proxy')
    node.add_argument(
        "--assertion-key", required=True, help="public key that certifies the edge's assertions (PEM or base64 DER)"
    )

    edge = _command(commands, "edge", "run the local mTLS edge (settings from the authorizer's environment variables)")
    edge.add_argument("--port", type=port_number, default=8443, help="port to listen on")
    edge.add_argument("--backend", default="http://127.0.0.1:8081", help="the node backend's URL")
    edge.add_argument("--server-cert", help="PEM server certificate (default: a throw-away one for localhost)")
    edge.add_argument("--server-key", help="PEM key of --server-cert")

    up = _command(commands, "up", "start S3 (moto), CRL/OCSP, node backend and edge together until Ctrl-C")
    up.add_argument("--dir", default=".nodegate/pki", help="PKI directory (created when missing)")
    up.add_argument("--port", type=port_number, default=8443, help="port of the edge")
    up.add_argument("--policy", help="access policy JSON file (default: the demo policy, carol may GET node-1)")
    up.add_argument(
        "--mirror-seconds", type=period, default=60.0, help="run the CRL mirror this often (0: never; see README)"
    )

    samples = _command(
        commands,
        "sample-store",
        "serve the sample PKI (certificates/) from a local S3 for `sam local invoke` in its container",
        "Start a local S3 (moto) whose bucket nodegate-samples holds certificates/truststore.pem and "
        "certificates/crls/, the objects events/sam-env.json names, until Ctrl-C. Example: nodegate sample-store, "
        "then make build && .venv/bin/sam local invoke AuthorizerFunction -e events/allow.json "
        "--env-vars events/sam-env.json --docker-network host",
    )
    samples.add_argument(
        "--port", type=port_number, default=4566, help="port of the local S3 (events/sam-env.json uses 4566)"
    )
    samples.add_argument("--host", default="127.0.0.1", help="address to listen on")
    samples.add_argument("--samples", default="certificates", help="directory with truststore.pem and crls/")

    invoke = _command(
        commands,
        "invoke",
        "run the authorizer on an event, like `sam local invoke -e`",
        "Run the authorizer handler on an event, with settings from --env-vars (SAM's format) or "
        "the environment. Example: nodegate invoke -e events/allow.json --env-vars events/env.json",
    )
    invoke.add_argument("-e", "--event", required=True, help="event JSON file, or - for standard input")
    _settings_arguments(invoke)

    explain = _command(
        commands,
        "explain",
        "show each step of the authorizer's decision on a certificate (exit 0 Allow, 1 Deny)",
        "Run the authorizer's own decision, with the settings from the environment (or --env-vars), and print "
        "the path, every revocation source with its answer and age, the identity, the policy rule that applied "
        "and the response. Example: nodegate explain --cert alice.pem --node node-1 --env-vars events/env.json",
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--cert", help="PEM client certificate (an event is built as API Gateway would)")
    source.add_argument("-e", "--event", help="an authorizer event JSON file instead of --cert")
    explain.add_argument(
        "--node", type=node_id, help="node id in the path (default node-1); with -e, the event is re-aimed at it"
    )
    explain.add_argument("--method", default="GET", help="HTTP method")
    explain.add_argument("--path", default="status", help="path below /nodes/{node}/")
    settings = explain.add_mutually_exclusive_group()
    settings.add_argument("-n", "--env-vars", help='SAM env-vars JSON ({"AuthorizerFunction": {...}})')
    settings.add_argument(
        "--stack", help="decide with the deployed stack's authorizer settings (its function's environment)"
    )
    explain.add_argument("--function", default="AuthorizerFunction", help="function (logical id in template.yaml)")
    explain.add_argument("--region", help="with --stack: AWS region (default: samconfig.toml's deploy region)")
    explain.add_argument("--profile", help="with --stack: AWS profile")
    explain.add_argument("--json", action="store_true", help="print the report as JSON")

    from nodegate.aws.publish import add_arguments

    publish = _command(
        commands,
        "publish-truststore",
        "check a CA bundle, upload it and point the stack's custom domain and authorizer at it",
        "Check the bundle as API Gateway would, upload it to the stack's versioned truststore bucket, and update "
        "the truststore version the stack reads (the SSM parameter TruststoreVersionParameter names), then the "
        "stack with every previous value. Example: nodegate publish-truststore --bundle "
        "my-cas.pem --stack nodegate",
    )
    add_arguments(publish)

    mirror = _command(
        commands,
        "mirror",
        "run the CRL mirror once: fetch, verify and store the truststore CAs' CRLs (exit 1 if it cannot run)",
        "Run the CRL mirror once, with the settings from the environment (or --env-vars): TRUSTSTORE_URI, "
        "CRL_STORE_URI, CRL_MIRROR_URLS and the fetch settings. Example: nodegate mirror --dry-run --env-vars "
        "events/env.json",
    )
    mirror.add_argument("--dry-run", action="store_true", help="print what would be written; write nothing")
    mirror.add_argument("-n", "--env-vars", help='SAM env-vars JSON ({"CrlMirrorFunction": {...}})')
    mirror.add_argument("--function", default="CrlMirrorFunction", help="function (logical id in template.yaml)")

    from nodegate.aws.session import SAMCONFIG

    check = _command(
        commands,
        "preflight",
        "check credentials, certificate, domain, node image and quotas before `sam deploy` (exit 0 ready, 1 not)",
        "Check what a deploy would only find out after creating resources: credentials and region, the ACM "
        "certificate (in the region, ISSUED, covering DomainName), the custom domain is free, NodeAmiId is an arm64 "
        "image in the region on an arm64 NodeInstanceType, the VPC quota and the Lambda concurrency "
        "AuthorizerConcurrency reserves. Parameters come from samconfig.toml (read by the SAM CLI's own code), "
        "then --parameter-overrides, then the template's defaults. One line per failure, with its fix. "
        "Exit 0 ready, 1 a check failed, 2 usage error. Example: nodegate preflight --stack nodegate",
    )
    check.add_argument("--stack", help="the stack to deploy (default: samconfig.toml's stack_name)")
    check.add_argument("--region", help="AWS region (default: samconfig.toml's deploy region)")
    check.add_argument("--profile", help="AWS profile (default: samconfig.toml's, else the environment's)")
    check.add_argument("--config-file", default=str(SAMCONFIG), help="samconfig.toml to read, as `sam deploy` does")
    check.add_argument(
        "--parameter-overrides", default="", help="Key=Value ... on top of samconfig.toml's, as `sam deploy` takes"
    )

    demo = _command(commands, "demo", "run the end-to-end demo and print its table (what `make demo` runs)")
    demo.add_argument("--dir", help="keep the demo PKI here (default: a temporary directory)")
    return top


HANDLERS = {
    "pki": _pki,
    "node": _node,
    "edge": _edge,
    "up": _up,
    "sample-store": _sample_store,
    "invoke": _invoke,
    "explain": _explain,
    "publish-truststore": _publish,
    "demo": _demo,
    "mirror": _mirror,
    "preflight": _preflight,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``nodegate`` console script: exit 1 with one clear line on any failure (no traceback),
    exit 2 on usage errors (argparse), 130 on Ctrl-C at any moment (quietly; a server that Ctrl-C stops once it
    serves exits 0), and no error when whoever reads the output stops early (``nodegate explain ... | head``)."""
    try:
        signal.signal(signal.SIGTERM, _interrupt)
        _main(argv)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(1)


def _main(argv: list[str] | None) -> None:
    from nodegate.aws.publish import PublishError
    from nodegate.aws.session import AwsError
    from nodegate.pki.directory import PkiError

    args = parser().parse_args(argv)
    try:
        sys.exit(HANDLERS[args.command](args))
    except BrokenPipeError:
        raise
    except (OSError, ValueError, PkiError, PublishError, AwsError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        print(f"nodegate {args.command}: error: {message}{where}", file=sys.stderr)
        sys.exit(1)
