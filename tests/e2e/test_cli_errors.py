"""Every CLI error is one line that names the file, port or value and the fix; usage errors exit 2; Ctrl-C at
any moment and a reader that stops early end quietly. Each case runs the real `nodegate` command."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from fuzz.targets import with_version

from commands import NODEGATE, ROOT, run
from nodegate.local.stack import free_port
from nodegate.pki.authority import CertificateAuthority, client_name
from nodegate.pki.directory import DevPki, init_pki


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (no traceback, nothing else)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["up", "--port", "70000"], "'70000' is not a port: use 0-65535"),
        (["node", "--port", "-5"], "'-5' is not a port: use 0-65535"),
        (["node", "--port", "70000"], "'70000' is not a port"),
        (["edge", "--port", "70000"], "'70000' is not a port"),
        (["pki", "serve", "pki", "--port", "70000"], "'70000' is not a port"),
        (["sample-store", "--port", "70000"], "'70000' is not a port"),
        (["sample-store", "--port", "-5"], "'-5' is not a port"),
        (["pki", "init", "new", "--url", "ftp://x"], "'ftp://x' is not a base URL: use http://host[:port]"),
        (["pki", "init", "new", "--url", "http://127.0.0.1:8480//crl/"], "no path or trailing slash"),
        (["pki", "init", "new", "--url", "http://127.0.0.1:8480/"], "no path or trailing slash"),
        (["pki", "init", "new", "--url", "http://127.0.0.1:99999"], "is not a base URL"),
        (["pki", "revoke", "pki", "1", "--reason", "stolen"], "invalid choice: 'stolen'"),
        (["up", "--mirror-seconds", "-1"], "'-1' is not a period: use 0 (never) or 1-86400 seconds"),
        (["up", "--mirror-seconds", "nan"], "'nan' is not a period"),
        (["up", "--mirror-seconds", "inf"], "'inf' is not a period"),
        (["up", "--mirror-seconds", "1e-9"], "'1e-9' is not a period"),
        (["up", "--mirror-seconds", "soon"], "'soon' is not a period"),
        (["explain", "--cert", "alice.pem", "--node", ""], "'' is not a node id: name one node"),
        (["explain", "--cert", "alice.pem", "--node", "node-1/../node-2"], "'node-1/../node-2' is not a node id"),
        (["explain", "--cert", "alice.pem", "--node", "node-1?x=1"], "'node-1?x=1' is not a node id"),
        (["explain", "--cert", "alice.pem", "--node", "node-1#f"], "'node-1#f' is not a node id"),
        *[
            (["pki", "issue", "pki", "--user", "a", "--node", "n", "--days", days], f"{days!r} is not a number of days")
            for days in ("0", "-1", "+5", "1_0", "\u0663", " 3 ", "1.5")
        ],
        *[
            (["up", "--mirror-seconds", text], f"{text!r} is not a period")
            for text in ("1_0", "\u0661\u0660", " 10", "-0")
        ],
        *[(["node", "--port", text], f"{text!r} is not a port") for text in ("\u0663", " 80", "+80")],
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], named: str) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result)
    assert named in line
    assert "--help" in line
    assert not (tmp_path / "new").exists()


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    init_pki(tmp_path / "pki", "http://127.0.0.1:1")
    return tmp_path / "pki"


def test_pki_init_refuses_the_current_directory_and_non_empty_ones(tmp_path: Path, pki: Path) -> None:
    here = run("pki", "init", ".", cwd=tmp_path)
    assert here.returncode == 1
    assert "is the current directory" in one_line(here)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    for directory, named in ((pki, "already holds a PKI"), (tmp_path / "notes", "is not empty")):
        result = run("pki", "init", str(directory))
        assert result.returncode == 1
        assert f"{directory} {named}" in one_line(result)
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["todo.txt"]


@pytest.mark.parametrize("days", ["100000", "99999999", "9" * 40])
def test_pki_issue_refuses_a_certificate_that_outlives_its_ca(pki: Path, days: str) -> None:
    """Days past the year 9999 too (rev-H F2: an OverflowError traceback)."""
    result = run("pki", "issue", str(pki), "--user", "a", "--node", "n", "--days", days)
    assert result.returncode == 1
    line = one_line(result)
    assert f"--days {days} outlives the issuing CA" in line
    longest = int(line.split("use --days ")[1].split()[0])
    assert run("pki", "issue", str(pki), "--user", "a", "--node", "n", "--days", str(longest)).returncode == 0
    issued = x509.load_pem_x509_certificate((pki / "clients" / "a-n.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "issuing-ca.pem").read_bytes())
    assert issued.not_valid_after_utc <= ca.not_valid_after_utc


def assertion_key(directory: Path) -> str:
    """A P-256 public key file for ``nodegate node --assertion-key`` (the edge's or KMS's key)."""
    path = directory / "assertion-key.pem"
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def test_json_and_pem_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{bad")
    key = assertion_key(tmp_path)
    for args in (
        ["invoke", "-e", str(bad)],
        ["explain", "-e", str(bad)],
        ["up", "--dir", str(tmp_path / "pki"), "--policy", str(bad)],
        ["node", "--routes", str(bad), "--port", "0", "--assertion-key", key],
        ["invoke", "-e", "events/allow.json", "--env-vars", str(bad)],
    ):
        result = run(*args)
        assert result.returncode == 1, args
        assert f"{bad}: not valid JSON" in one_line(result), args
    for args, named in (
        (["explain", "--cert", str(bad)], f"{bad}: not a PEM certificate"),
        (["edge", "--port", "0", "--server-cert", str(bad), "--server-key", str(bad)], f"{bad} and {bad}: not a PEM"),
        (["node", "--port", "0", "--assertion-key", str(bad)], f"{bad}: not a public key"),
    ):
        result = run(*args, env={"TRUSTSTORE_URI": f"file://{ROOT}/certificates/truststore.pem", "PATH": "/usr/bin"})
        assert result.returncode == 1, args
        assert named in one_line(result)


DEEP = "[" * 100_000
"""Deeper than the stdlib parser's recursion: it raised RecursionError, a traceback (rev-F F7)."""
BAD_JSON = {
    "deep-array": DEEP.encode(),
    "deep-object": b'{"a": ' * 65 + b"1" + b"}" * 65,
    "not-utf-8": b'{"a": "\xff"}',
    "long-integer": b"1" * 5000,
}


@pytest.mark.parametrize("kind", sorted(BAD_JSON))
@pytest.mark.parametrize(
    "command",
    [
        ["invoke", "-e", "{bad}", "--env-vars", "events/env.json"],
        ["invoke", "-e", "events/allow.json", "--env-vars", "{bad}"],
        ["explain", "-e", "{bad}", "--env-vars", "events/env.json"],
        ["explain", "--cert", "certificates/alice-node-1.pem", "--env-vars", "{bad}"],
        ["node", "--port", "0", "--routes", "{bad}", "--assertion-key", "{key}"],
        ["up", "--dir", "{tmp}/pki", "--policy", "{bad}"],
        ["pki", "list", "{pki}"],
    ],
    ids=["invoke-event", "invoke-env", "explain-event", "explain-env", "node-routes", "up-policy", "pki-db"],
)
def test_every_json_file_the_cli_reads_is_one_line_naming_it(
    tmp_path: Path, pki: Path, command: list[str], kind: str
) -> None:
    """Class of rev-F F7: every JSON file read by the CLI and the node backend goes through
    ``nodegate_node.json_text.parse_json``: too deep, not UTF-8 or an integer too long is one line naming the file."""
    bad = pki / "db.json" if command[0] == "pki" else tmp_path / "bad.json"
    bad.write_bytes(BAD_JSON[kind])
    names = {"bad": str(bad), "key": assertion_key(tmp_path), "tmp": str(tmp_path), "pki": str(pki)}
    result = run(*[part.format(**names) for part in command])
    assert result.returncode == 1, result.stderr[-300:]
    assert f"{bad}: not valid JSON" in one_line(result)


@pytest.mark.parametrize(
    ("command", "state", "content"),
    [
        (["pki", "list", "{pki}"], "db.json", "[]"),
        (["pki", "list", "{pki}"], "db.json", '{"1": {}}'),
        (["up", "--dir", "{pki}", "--port", "0"], "db.json", "[]"),
        (["up", "--dir", "{pki}", "--port", "0"], "config.json", "{}"),
        (["pki", "issue", "{pki}", "--user", "a", "--node", "n"], "config.json", '{"url": 1}'),
        (["pki", "issue", "{pki}", "--user", "a", "--node", "n"], "config.json", '{"url": "http://127.0.0.1:99999"}'),
        (
            ["pki", "list", "{pki}"],
            "db.json",
            '{"zz-not-hex": {"ca": "root", "subject": "", "file": "x", "revoked": null}}',
        ),
    ],
)
def test_a_pki_state_file_of_the_wrong_shape_is_one_line_naming_it(
    pki: Path, command: list[str], state: str, content: str
) -> None:
    """rev-H F2: valid JSON of the wrong shape in the PKI's own files (the class: functional/test_pki_state.py)."""
    (pki / state).write_text(content)
    result = run(*[part.format(pki=pki) for part in command])
    assert result.returncode == 1
    assert f"{pki / state}: " in one_line(result)


def test_a_revocation_that_cannot_be_published_changes_nothing(pki: Path) -> None:
    """rev-I F1: ``pki revoke`` wrote the revocation into db.json and then failed to publish the CRLs (a bad
    config.json); the retry said "already revoked" and published nothing, so the CRL never listed the certificate
    while OCSP answered revoked (RFC 5280 5, RFC 6960 2.2: one CA's CRL and OCSP answers agree)."""
    DevPki(pki).issue("bob", "node-2")
    cert = pki / "clients" / "bob-node-2.pem"
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    config = (pki / "config.json").read_text()
    db = (pki / "db.json").read_text()
    (pki / "config.json").write_text("[1]")
    failed = run("pki", "revoke", str(pki), str(cert))
    assert failed.returncode == 1
    assert f"{pki / 'config.json'}: " in one_line(failed)
    assert (pki / "db.json").read_text() == db  # nothing written
    (pki / "config.json").write_text(config)
    assert run("pki", "revoke", str(pki), str(cert)).returncode == 0
    assert x509.load_der_x509_crl((pki / "crl" / "issuing.crl").read_bytes()).get_revoked_certificate_by_serial_number(
        serial
    )


def test_a_revocation_left_unpublished_is_published_by_revoking_again(pki: Path) -> None:
    """A db.json that says revoked beside a CRL that does not list it (a revocation whose publication failed, as
    before rev-I F1 was fixed): revoking again publishes it."""
    pki_dir = DevPki(pki)
    cert = pki_dir.issue("bob", "node-2")
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    before = (pki / "crl" / "issuing.crl").read_bytes()
    pki_dir.revoke(str(cert))
    (pki / "crl" / "issuing.crl").write_bytes(before)  # the publication that failed
    again = run("pki", "revoke", str(pki), str(cert))
    assert (again.returncode, "already revoked" in again.stdout) == (0, True)
    crl = x509.load_der_x509_crl((pki / "crl" / "issuing.crl").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None


def test_a_missing_database_is_an_error_never_an_empty_pki(pki: Path) -> None:
    """rev-J F1 (wrong Allow): with db.json gone, ``pki crl`` published a higher-numbered CRL without the
    revocations and ``pki issue`` started a new database; RFC 5280 3.3 keeps an entry until the certificate expires."""
    pki_dir = DevPki(pki)
    pki_dir.revoke(str(pki_dir.issue("bob", "node-2")))
    crl = (pki / "crl" / "issuing.crl").read_bytes()
    (pki / "db.json").unlink()
    for command in (["pki", "crl", str(pki)], ["pki", "issue", str(pki), "--user", "a", "--node", "n"]):
        result = run(*command)
        assert result.returncode == 1
        assert f"{pki / 'db.json'} is missing" in one_line(result)
    assert (pki / "crl" / "issuing.crl").read_bytes() == crl
    assert not (pki / "db.json").exists()


def test_a_revocation_is_recorded_only_once_its_crls_are_published(pki: Path) -> None:
    """rev-J F5: a CRL that cannot be written fails the revocation before db.json records it."""
    cert = DevPki(pki).issue("bob", "node-2")
    db = (pki / "db.json").read_text()
    (pki / "crl" / "issuing.crl").unlink()
    (pki / "crl" / "issuing.crl").mkdir()
    assert run("pki", "revoke", str(pki), str(cert)).returncode == 1
    assert (pki / "db.json").read_text() == db


def test_a_hold_made_permanent_is_recorded(pki: Path) -> None:
    """rev-J F6: certificateHold is the reversible reason (RFC 5280 5.3.1); a permanent one replaces it (the date
    stays), where before the second revoke said "already revoked" and kept the hold."""
    pki_dir = DevPki(pki)
    cert = pki_dir.issue("bob", "node-2")
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    assert run("pki", "revoke", str(pki), str(cert), "--reason", "certificate_hold").returncode == 0
    held = pki_dir.listing()[0]
    assert run("pki", "revoke", str(pki), str(cert), "--reason", "key_compromise").returncode == 0
    now = pki_dir.listing()[0]
    assert (now.reason, now.revoked_at) == ("key_compromise", held.revoked_at)
    entry = x509.load_der_x509_crl((pki / "crl" / "issuing.crl").read_bytes()).get_revoked_certificate_by_serial_number(
        serial
    )
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise


def test_pki_serve_refuses_a_directory_the_other_commands_refuse(pki: Path) -> None:
    """rev-I F2: it started, then printed a traceback at every OCSP request."""
    (pki / "db.json").write_text('{"1": {"ca": "issuing", "subject": "", "file": "x", "revoked": "yes"}}')
    result = run("pki", "serve", str(pki), "--port", str(free_port()))
    assert result.returncode == 1
    assert f"{pki / 'db.json'}: " in one_line(result)


def test_pki_serve_answers_internal_error_when_its_database_breaks_while_it_serves(pki: Path) -> None:
    """rev-I F2, while running: an OCSP answer with status internalError (RFC 6960 2.3), never a dropped
    connection; a Content-Length that is not a number is a 404 that closes the connection, never a traceback."""
    port = free_port()
    DevPki(pki).issue("bob", "node-2")
    cert = x509.load_pem_x509_certificate((pki / "clients" / "bob-node-2.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate((pki / "issuing-ca.pem").read_bytes())
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    body = request.public_bytes(serialization.Encoding.DER)
    server = subprocess.Popen(
        [NODEGATE, "pki", "serve", str(pki), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # serving
        (pki / "db.json").write_text("[]")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/ocsp/issuing", body=body, headers={"Content-Type": "application/ocsp-request"})
        answer = ocsp.load_der_ocsp_response(connection.getresponse().read())
        assert answer.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR
        (pki / "db.json").unlink()  # rev-J F4: gone is no "unknown" either
        (pki / "ocsp-signer.key").write_text("garbage")  # rev-J F3: a key or CA file broken while serving
        for _ in range(2):
            connection.request("POST", "/ocsp/issuing", body=body, headers={"Content-Type": "application/ocsp-request"})
            answer = ocsp.load_der_ocsp_response(connection.getresponse().read())
            assert answer.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR
            (pki / "db.json").write_text("{}")
        (pki / "crl" / "issuing.crl").unlink()
        (pki / "crl" / "issuing.crl").mkdir()  # rev-J F3: a CRL that cannot be read is not found, not a drop
        connection.request("GET", "/crl/issuing.crl")
        assert connection.getresponse().status == 404
        connection.close()
        for lengths in (b"Content-Length: ten\r\n", b"Content-Length: 6\r\nContent-Length: 5\r\n"):  # rev-J F7
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(
                    b"POST /ocsp/issuing HTTP/1.1\r\nHost: x\r\n" + lengths + b"\r\nabcdefGET / HTTP/1.1\r\n\r\n"
                )
                answer = b""
                while chunk := raw.recv(4096):  # the connection closes after one answer: no second request read
                    answer += chunk
            assert answer.split(b" ")[:2] == [b"HTTP/1.1", b"404"]
            assert answer.count(b"HTTP/1.") == 1, answer
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]


def test_json_from_standard_input_is_one_line() -> None:
    """``invoke -e -`` reads the event from stdin (the node module's --routes: tests/e2e/test_node.py)."""
    result = run("invoke", "-e", "-", "--env-vars", "events/env.json", stdin=DEEP)
    assert result.returncode == 1
    assert "standard input: not valid JSON (arrays or objects nested more than 64 deep)" in one_line(result)


@pytest.mark.parametrize("content", ["[1]", '"x"', "3", '{"AuthorizerFunction": [1]}', '{"Parameters": "x"}'])
@pytest.mark.parametrize("command", [["invoke", "-e", "events/allow.json"], ["explain", "-e", "events/allow.json"]])
def test_an_env_vars_file_that_is_not_an_object_of_objects_is_one_line(
    tmp_path: Path, content: str, command: list[str]
) -> None:
    """Valid JSON of the wrong shape is refused like SAM refuses it, naming the file, never with a traceback."""
    env_vars = tmp_path / "env.json"
    env_vars.write_text(content)
    result = run(*command, "--env-vars", str(env_vars))
    assert result.returncode == 1
    assert f"{env_vars}: environment variables in incorrect format" in one_line(result)


def test_up_refuses_an_invalid_policy_at_start(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"version": 1, "grants": [{"user": "carol", "nodes": ["node 1"], "methods": ["GET"]}]}')
    started = time.monotonic()
    result = run("up", "--dir", str(tmp_path / "pki"), "--port", "0", "--policy", str(policy))
    assert result.returncode == 1
    assert f"{policy}: not a usable access policy" in one_line(result)
    assert time.monotonic() - started < 20
    assert not (tmp_path / "pki").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.mark.parametrize(
    ("command", "role"),
    [
        (["sample-store", "--samples", str(ROOT / "certificates")], "local S3"),
        (["node", "--assertion-key", "KEY"], "node backend"),
        (["edge", "--server-cert", "server.pem", "--server-key", "server.key"], "edge"),
        (["pki", "serve", "pki"], "CRL/OCSP server"),
    ],
)
def test_a_busy_port_fails_fast_and_is_named(pki: Path, busy_port: int, command: list[str], role: str) -> None:
    env = {"TRUSTSTORE_URI": f"file://{pki}/truststore.pem", "PATH": "/usr/bin"}
    command = [assertion_key(pki.parent) if word == "KEY" else word for word in command]
    started = time.monotonic()
    result = run(*command, "--port", str(busy_port), cwd=pki.parent if command[0] == "pki" else pki, env=env)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{busy_port} for the {role}" in one_line(result)
    assert "choose another port" in one_line(result)
    assert time.monotonic() - started < 15


def test_ctrl_c_while_the_cli_imports_is_quiet() -> None:
    """The console script's first module takes Ctrl-C before it imports the CLI (about 40 ms of imports): a
    SIGINT at that moment ends the command with 130 and no traceback. Before it, only the interpreter's own
    start-up runs."""
    script = (
        "import os, signal, sys; sys.argv = ['nodegate', '--version']\n"
        "import nodegate.console\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "nodegate.console.main()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 130, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""


@pytest.mark.parametrize("delay", [0.1, 0.4, 0.7, 1.0, 1.3, 1.6, 2.2])
def test_ctrl_c_at_any_moment_of_up_is_quiet(tmp_path: Path, delay: float) -> None:
    process = subprocess.Popen(
        [NODEGATE, "up", "--dir", str(tmp_path / "pki"), "--port", str(free_port())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert "KeyboardInterrupt" not in err
    assert process.returncode in (0, 130)


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    """`nodegate explain ... | head`: the pipe closes before the report is written."""
    process = subprocess.Popen(
        [NODEGATE, "explain", "--cert", "certificates/alice-node-1.pem", "--env-vars", "events/env.json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert err == ""


def test_explain_event_honours_node() -> None:
    own = run("explain", "-e", "events/allow.json", "--env-vars", "events/env.json")
    assert own.returncode == 0, own.stdout
    other = run("explain", "-e", "events/allow.json", "--node", "node-2", "--env-vars", "events/env.json")
    assert other.returncode == 1
    assert "=> Deny NODE_MISMATCH: certificate is bound to node node-1, not node-2" in other.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "nodegate 0.1.0"


@pytest.mark.parametrize("kind", ["key-after-crl", "key-as-crl", "der-key", "two-crls", "certificate"])
def test_sample_store_serves_only_parsed_crls(tmp_path: Path, kind: str) -> None:
    """A CRL file is parsed (DER, or one PEM X509 CRL block: RFC 5280 5, RFC 7468 7) and served re-encoded as
    DER; a key appended to a CRL, a key saved as ``*.crl`` or any other content is refused by file, one line,
    before anything is served (same rule as ``nodegate up``'s CRL sync: nodegate.pki.bundle.public_crl)."""
    samples = tmp_path / "samples"
    (samples / "crls").mkdir(parents=True)
    (samples / "truststore.pem").write_bytes((ROOT / "certificates" / "truststore.pem").read_bytes())
    crl = x509.load_der_x509_crl((ROOT / "certificates" / "crls" / "issuing.crl").read_bytes())
    pem_crl = crl.public_bytes(serialization.Encoding.PEM)
    key = ec.generate_private_key(ec.SECP256R1())
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = (ROOT / "certificates" / "alice-node-1.pem").read_bytes()
    content, named = {
        "key-after-crl": (pem_crl + pem_key, "PRIVATE KEY block: the CRL store is public, remove the key"),
        "key-as-crl": (pem_key, "PRIVATE KEY block: the CRL store is public, remove the key"),
        "der-key": (der_key, "not a CRL (DER or one PEM X509 CRL block)"),
        "two-crls": (pem_crl + pem_crl, "one X509 CRL block a file"),
        "certificate": (cert, "a CERTIFICATE block is not a CRL"),
    }[kind]
    (samples / "crls" / "issuing.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    (samples / "crls" / "notes.crl").write_bytes(content)
    result = subprocess.run(
        [NODEGATE, "sample-store", "--samples", str(samples), "--port", str(free_port())],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert one_line(result).startswith(f"nodegate sample-store: error: {samples / 'crls' / 'notes.crl'}: ")
    assert named in one_line(result)


@pytest.mark.parametrize("encoded", [b"\x00", b"\x03"], ids=["encoded-default-v1", "v4"])
def test_a_certificate_cryptography_cannot_read_is_one_line_naming_it(tmp_path: Path, encoded: bytes) -> None:
    """rev-G: ``cryptography`` raises InvalidVersion (no ValueError) on a version 3 ("v4") certificate; every CLI
    command that reads a certificate the user names answers in one line naming the file."""
    issuer = CertificateAuthority.root("odd versions")
    leaf = issuer.issue(client_name("alice", "node-1"))
    odd = tmp_path / "odd.pem"
    odd.write_text(ssl.DER_cert_to_PEM_cert(with_version(leaf.cert, issuer.key, encoded)))
    pki = tmp_path / "pki"
    init_pki(pki, "http://127.0.0.1:8480")
    env = {"TRUSTSTORE_URI": f"file://{ROOT}/certificates/truststore.pem", "PATH": "/usr/bin"}
    for args in (["explain", "--cert", str(odd)], ["pki", "revoke", str(pki), str(odd)]):
        result = run(*args, env=env)
        assert result.returncode == 1, (args, result.stderr)
        assert str(odd) in one_line(result), args
