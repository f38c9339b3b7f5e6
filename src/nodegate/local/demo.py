"""``make demo``: start the stack, run real curl calls with client certificates, print what happened."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodegate.local.stack import DEFAULT_POLICY, Stack, free_port, running_stack
from nodegate.pki.authority import CertificateAuthority, client_name, pem, utcnow
from nodegate.pki.directory import DevPki, init_pki
from nodegate.pki.workloads import identity_rules, workloads
from nodegate_node.json_text import parse_json


@dataclass(frozen=True)
class Case:
    """One curl call and what must come of it: an HTTP status, or ``tls`` for a refused handshake."""

    title: str
    client: str | None
    node: str
    expect: str
    method: str = "GET"
    route: str = "whoami"
    headers: tuple[str, ...] = ()


CASES = (
    Case("operator on its own node", "alice-node-1", "node-1", "200"),
    Case("same operator, another node", "alice-node-1", "node-2", "403"),
    Case("revoked certificate", "bob-node-2", "node-2", "403"),
    Case("expired certificate", "dave-node-4", "node-4", "tls"),
    Case("certificate from an untrusted CA", "mallory-node-1", "node-1", "tls"),
    Case("no client certificate", None, "node-1", "tls"),
    Case("injected X-User-Id is overwritten", "alice-node-1", "node-1", "200", headers=("X-User-Id: root",)),
    Case("policy grant: carol may GET node-1", "carol-node-3", "node-1", "200"),
    Case("policy grant is GET only: carol POST", "carol-node-3", "node-1", "403", method="POST", route="echo"),
    Case("node-3 proxied to its node software", "carol-node-3", "node-3", "200", method="POST", route="api/v1?x=1"),
    Case("SPIFFE ID (URI SAN) on its own node", "spiffe-alice-node-1", "node-1", "200"),
    Case("SPIFFE ID on another node", "spiffe-alice-node-1", "node-2", "403"),
    Case("SVID with two SPIFFE IDs (ambiguous)", "spiffe-two-ids", "node-1", "403"),
    Case("email SAN on its own node", "mail-alice-node-1", "node-1", "200"),
    Case("email SAN of a domain no rule names", "mail-other-domain", "node-1", "403"),
)


def prepare(pki: DevPki) -> None:
    """Issue the demo's certificates: good ones, a revoked one, an expired one and a foreign one."""
    for user, node in (("alice", "node-1"), ("bob", "node-2"), ("carol", "node-3")):
        pki.issue(user, node)
    pki.issue("dave", "node-4", days=30, not_before=utcnow() - dt.timedelta(days=40))
    pki.revoke(str(pki.root / "clients" / "bob-node-2.pem"))
    foreign = CertificateAuthority.root("nodegate dev root CA").sub_ca("nodegate dev issuing CA")
    mallory = foreign.issue(client_name("mallory", "node-1"))
    (pki.root / "clients" / "mallory-node-1.pem").write_bytes(mallory.cert_pem())
    (pki.root / "clients" / "mallory-node-1.key").write_bytes(mallory.key_pem())


def add_workloads(pki: DevPki) -> dict[str, Any]:
    """A SPIFFE CA and an email CA under the dev root, in the truststore beside the dev issuing CA, their
    certificates in clients/; return the demo policy with an identity rule for each of the three CAs."""
    top, issuing = pki.ca("root"), pki.ca("issuing")
    found = workloads(top)
    (pki.root / "truststore.pem").write_bytes(pem(top.cert, issuing.cert, found.spiffe.cert, found.mail.cert))
    (pki.root / "clients").mkdir(exist_ok=True)
    for stem, issued in found.clients.items():
        (pki.root / "clients" / f"{stem}.pem").write_bytes(issued.cert_pem())
        (pki.root / "clients" / f"{stem}.key").write_bytes(issued.key_pem())
    for file_name, der in found.crls(days=7).items():  # the stack syncs crl/ to the CRL store
        (pki.root / "crl" / file_name).write_bytes(der)
    return DEFAULT_POLICY | {"identityRules": identity_rules(found, issuing)}


@contextmanager
def demo_stack(root: Path) -> Iterator[Stack]:
    """The stack as ``make demo`` runs it: the dev PKI (created in ``root`` if needed) with the SAN-identity CAs,
    the demo policy and every case's certificate."""
    if not (root / "config.json").exists():
        init_pki(root, f"http://127.0.0.1:{free_port()}")
    policy = add_workloads(DevPki(root))
    with running_stack(root, policy=policy) as stack:
        prepare(stack.pki)
        yield stack


def run_case(stack: Stack, case: Case) -> tuple[str, str]:
    """Run curl for one case; return (status or TLS error, what the backend saw)."""
    command = [
        "curl",
        "-sS",
        "--max-time",
        "15",
        "--cacert",
        str(stack.pki.root / "root-ca.pem"),
        "-X",
        case.method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ]
    if case.client:
        stem = stack.pki.root / "clients" / case.client
        command += ["--cert", f"{stem}.pem", "--key", f"{stem}.key"]
    for header in case.headers:
        command += ["-H", header]
    if case.method == "POST":
        command += ["--data", "hello"]
    command.append(f"{stack.edge.url}/nodes/{case.node}/{case.route}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        error = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"curl exit {result.returncode}"
        return "tls", f"curl exit {result.returncode}: {error.rsplit('::', 1)[-1][:60]}"
    body, _, status = result.stdout.rpartition("\n")
    try:
        payload = parse_json(body, "answer")
    except ValueError:
        payload = {"raw": body[:60]}
    if status == "200" and "upstream" in payload:
        seen = f"upstream saw {payload['method']} {payload['path']}?{payload['query']} from {payload['caller']}"
    elif status == "200" and "userId" in payload:
        seen = f"user={payload['userId']} node={payload['nodeId']} rule={payload.get('identityRule')}"
        seen += f" subject={payload.get('subject', '')[:30]}"
    elif status == "200" and "caller" in payload:
        seen = f"caller={payload['caller']}"
    else:
        seen = f"(not proxied) reason={payload.get('reason', '-')}"
    return status, seen


def main(directory: Path | None = None) -> int:
    """Run every case; print the table; return 0 only when every row is as expected."""
    with tempfile.TemporaryDirectory(prefix="nodegate-demo-") as tmp:
        root = directory or Path(tmp) / "pki"
        with demo_stack(root) as stack:
            rows = [(case, *run_case(stack, case)) for case in CASES]
    width = max(len(case.title) for case in CASES)
    print(f"{'case':<{width}}  expect  got   ok  backend saw / TLS error")
    print("-" * (width + 80))
    failures = 0
    for case, got, seen in rows:
        ok = got == case.expect
        failures += not ok
        print(f"{case.title:<{width}}  {case.expect:<6}  {got:<5} {'yes' if ok else 'NO':<3} {seen}")
    print(f"\n{len(rows) - failures} passed, {failures} failed")
    return 1 if failures else 0
