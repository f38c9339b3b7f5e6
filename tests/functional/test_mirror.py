"""The CRL mirror against real CRLs served over HTTP on 127.0.0.1, a file:// store and a moto S3 store,
and the authorizer's REVOCATION_FETCH=store-only setting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import Invoke
from nodegate.pki.authority import CertificateAuthority, crl_der, new_key, pem, utcnow
from nodegate_authorizer import handler as authorizer
from nodegate_authorizer.mirror import Action, MirrorReport, url_objects
from nodegate_authorizer.mirror_handler import metric_values, run_from_environment
from nodegate_authorizer.names import canonical
from nodegate_authorizer.revocation.crl import parse_crl
from nodegate_authorizer.settings import ConfigError, RevocationFetch, load_settings
from nodegate_dev.world import World

NOW = utcnow()
"""The validation time of the running test (set when it starts; the test PKI is backdated 5 minutes)."""
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _validation_time() -> None:
    """Each test validates at its own start: certificates issued by fixtures are valid then, however long
    the suite ran before it."""
    global NOW
    NOW = utcnow()


def issuing_url(world: World) -> str:
    return f"{world.server.url}/crl/issuing.crl"


def root_url(world: World) -> str:
    return f"{world.server.url}/crl/root.crl"


def env(world: World, store: str | None = None, **extra: str) -> dict[str, str]:
    return world.env(CRL_STORE_URI=store or world.crl_store.as_uri(), CRL_MIRROR_URLS=issuing_url(world), **extra)


def serve(world: World, **crls: bytes) -> None:
    """Serve exactly these CRL bytes (``root=...``, ``issuing=...``)."""
    world.responder.crl_override.update(crls)


def crl(ca: CertificateAuthority, number: int = 1, **kw: Any) -> bytes:
    kw.setdefault("this_update", NOW - HOUR)
    kw.setdefault("next_update", NOW + 5 * HOUR)
    return crl_der(ca.crl({}, number=number, **kw))


def stored(world: World, url: str) -> bytes | None:
    """The URL's one stored CRL (every test here serves one issuer and scope per URL), or None."""
    paths = [path for path in world.crl_store.iterdir() if url_objects(url, [path.name])]
    assert len(paths) <= 1, paths
    return paths[0].read_bytes() if paths else None


def run(world: World, *, dry_run: bool = False, **extra: str) -> MirrorReport:
    return run_from_environment(env(world, **extra), NOW, dry_run=dry_run)


def actions(report: MirrorReport) -> dict[str, str]:
    assert report.error is None, report.error
    return {result.url.rsplit("/", 1)[1]: result.action for result in report.results}


def test_collects_cdps_of_truststore_cas_plus_extra_urls_and_writes_verified_crls(world: World) -> None:
    good_root, good_issuing = crl(world.root), crl(world.issuing)
    serve(world, root=good_root, issuing=good_issuing)
    report = run(world)
    # root.crl comes from the issuing CA certificate's CDP, issuing.crl from CRL_MIRROR_URLS
    assert actions(report) == {"root.crl": Action.WRITTEN, "issuing.crl": Action.WRITTEN}
    assert stored(world, root_url(world)) == good_root
    assert stored(world, issuing_url(world)) == good_issuing


def test_only_changed_crls_are_written(world: World) -> None:
    serve(world, root=crl(world.root), issuing=crl(world.issuing))
    run(world)
    before = {p.name: p.stat().st_mtime_ns for p in world.crl_store.iterdir()}
    assert actions(run(world)) == {"root.crl": Action.UNCHANGED, "issuing.crl": Action.UNCHANGED}
    assert {p.name: p.stat().st_mtime_ns for p in world.crl_store.iterdir()} == before
    newer = crl(world.issuing, number=2)
    serve(world, issuing=newer)
    assert actions(run(world)) == {"root.crl": Action.UNCHANGED, "issuing.crl": Action.WRITTEN}
    assert stored(world, issuing_url(world)) == newer
    (root_object,) = url_objects(root_url(world), before)
    assert (world.crl_store / root_object).stat().st_mtime_ns == before[root_object]


@pytest.mark.parametrize("fault", ["500", "garbage", "hang", "down"])
def test_a_cdp_that_is_down_keeps_the_last_good_copy(world: World, fault: str) -> None:
    good = crl(world.issuing)
    serve(world, root=crl(world.root), issuing=good)
    run(world)
    world.server.slow_seconds = 1.0
    if fault == "down":
        world.server.shutdown()
        world.server.server_close()  # connections are refused
    else:
        world.server.faults["crl"] = fault
    report = run(world)
    assert actions(report) == {"root.crl": Action.KEPT, "issuing.crl": Action.KEPT}
    assert stored(world, issuing_url(world)) == good
    assert all(r.why for r in report.results)


def _without_number(ca: CertificateAuthority) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - HOUR)
        .next_update(NOW + HOUR)
    )
    return crl_der(builder.sign(ca.key, hashes.SHA256()))


BAD: dict[str, tuple[Callable[[World], bytes], str]] = {
    "bad signature": (lambda w: crl(w.issuing, number=5, signer=new_key()), "signature is not valid"),
    "stale": (lambda w: crl(w.issuing, number=5, this_update=NOW - 3 * HOUR, next_update=NOW - HOUR), "stale"),
    "future thisUpdate": (lambda w: crl(w.issuing, number=5, this_update=NOW + HOUR), "in the future"),
    "rolled back": (lambda w: crl(w.issuing, number=1), "rollback"),
    "same number, other content": (lambda w: crl(w.issuing, number=3, this_update=NOW - 2 * HOUR), "cRLNumber 3"),
    "no cRLNumber": (lambda w: _without_number(w.issuing), "no cRLNumber"),
    "not a CRL": (lambda w: b"\x30\x03\x02\x01\x00", "malformed"),
    "other CA, same name": (
        lambda w: crl(CertificateAuthority.root("nodegate test issuing", key="ec"), number=5),
        "signature is not valid",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_crl_is_never_written_and_the_good_copy_stays(world: World, kind: str) -> None:
    make, why = BAD[kind]
    good = crl(world.issuing, number=3)
    serve(world, root=crl(world.root), issuing=good)
    run(world)
    serve(world, issuing=make(world))
    report = run(world)
    assert actions(report)["issuing.crl"] == Action.KEPT
    assert why in next(r.why for r in report.results if r.url == issuing_url(world))
    assert stored(world, issuing_url(world)) == good


@pytest.mark.parametrize("kind", sorted(set(BAD) - {"rolled back", "same number, other content"}))
def test_a_bad_crl_is_not_written_into_an_empty_store(world: World, kind: str) -> None:
    serve(world, root=crl(world.root), issuing=BAD[kind][0](world))
    report = run(world)
    assert actions(report)["issuing.crl"] == Action.KEPT
    assert report.results[-1].why.endswith("(nothing stored yet)")
    assert stored(world, issuing_url(world)) is None


def test_a_crl_signed_by_an_expired_intermediate_is_not_written(world: World, tmp_path: Path) -> None:
    old = world.root.sub_ca("nodegate old issuing", not_before=NOW - dt.timedelta(days=2000))
    world.truststore.write_bytes(pem(world.root.cert, world.issuing.cert, old.cert))
    serve(world, root=crl(world.root), issuing=crl(old))
    report = run(world)
    assert actions(report)["issuing.crl"] == Action.KEPT
    assert "CRL signer path" in report.results[-1].why


def test_dry_run_writes_nothing_and_says_what_it_would(world: World) -> None:
    serve(world, root=crl(world.root), issuing=crl(world.issuing))
    report = run(world, dry_run=True)
    assert actions(report) == {"root.crl": Action.WOULD_WRITE, "issuing.crl": Action.WOULD_WRITE}
    assert list(world.crl_store.iterdir()) == []
    assert any(line.startswith("would-write") for line in report.lines())


def test_metric_values_per_issuer(world: World) -> None:
    serve(
        world,
        root=crl(world.root, this_update=NOW - 2 * HOUR, next_update=NOW + 20 * HOUR),
        issuing=crl(world.issuing, this_update=NOW - HOUR, next_update=NOW + 5 * HOUR),
    )
    report = run(world)
    values = {(name, dims.get("Issuer")): value for name, value, dims in metric_values(report)}
    root, issuing = world.root.cert.subject.rfc4514_string(), world.issuing.cert.subject.rfc4514_string()
    assert values == {
        ("CrlAgeSeconds", root): 7200.0,
        ("CrlSecondsToNextUpdate", root): 72000.0,
        ("CrlAgeSeconds", issuing): 3600.0,
        ("CrlSecondsToNextUpdate", issuing): 18000.0,
        ("CrlSecondsToNextUpdateMin", None): 18000.0,
        ("CrlMirrorKeptLastGood", None): 0.0,
    }
    # the issuing CDP goes down: its last good copy still counts, and the kept URL is counted
    world.server.faults["crl"] = "500"
    values = {(name, dims.get("Issuer")): value for name, value, dims in metric_values(run(world))}
    assert values[("CrlAgeSeconds", issuing)] == 3600.0
    assert values[("CrlMirrorKeptLastGood", None)] == 2.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CRL_MIRROR_URLS": "ftp://example.com/x.crl"}, "CRL_MIRROR_URLS"),
        ({"CRL_MIRROR_URLS": "http://[::1/x.crl"}, "CRL_MIRROR_URLS"),  # urlsplit raises on it
        ({"CRL_MIRROR_URLS": "http://example.com:99999/x.crl"}, "CRL_MIRROR_URLS"),
        ({"CRL_STORE_URI": ""}, "CRL_STORE_URI is not set"),
        ({"TRUSTSTORE_URI": "file:///nonexistent/ts.pem"}, "nonexistent"),
        ({"FETCH_MAX_BYTES": "x"}, "FETCH_MAX_BYTES"),
    ],
)
def test_a_run_that_cannot_start_is_one_error_line(world: World, overrides: dict[str, str], message: str) -> None:
    report = run_from_environment(env(world) | overrides, NOW)
    assert report.error is not None
    assert message in report.error
    assert report.lines() == [f"error: {report.error}"]
    assert metric_values(report) == [("CrlMirrorFailed", 1.0, {})]


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/a.crl", "http://h:99999/a.crl", "http://h:-1/a.crl"])
def test_a_ca_whose_cdp_is_no_usable_url_is_skipped_and_the_others_are_mirrored(world: World, url: str) -> None:
    """One truststore CA with a CDP that urlsplit cannot parse (or a port out of range) must not stop the mirror
    for every other CA: its URL is no source, as it is for the authorizer."""
    odd = CertificateAuthority.root("odd CDP root", crl_url=url)
    world.truststore.write_bytes(world.truststore.read_bytes() + pem(odd.sub_ca("odd CDP issuing").cert))
    good_root = crl(world.root)
    serve(world, root=good_root, issuing=crl(world.issuing))
    report = run(world)
    assert actions(report) == {"root.crl": Action.WRITTEN, "issuing.crl": Action.WRITTEN}
    assert stored(world, root_url(world)) == good_root


def test_mirror_into_s3_writes_only_changes_and_the_authorizer_decides_from_it(
    world: World, invoke: Invoke, bucket: Any
) -> None:
    s3, name = bucket
    s3.put_object(Bucket=name, Key="ts.pem", Body=world.truststore.read_bytes())
    alice, eve = world.client(), world.client("eve")
    now = dt.datetime.now(dt.UTC)
    revoked = crl_der(world.issuing.crl({eve.cert.serial_number: now - HOUR}, this_update=now - HOUR))
    serve(world, root=crl_der(world.root.crl(this_update=now - HOUR)), issuing=revoked)
    overrides = {"TRUSTSTORE_URI": f"s3://{name}/ts.pem"}
    store = f"s3://{name}/crls/"
    report = run_from_environment(env(world, store, **overrides), now)
    assert actions(report) == {"root.crl": Action.WRITTEN, "issuing.crl": Action.WRITTEN}
    assert actions(run_from_environment(env(world, store, **overrides), now)) == {
        "root.crl": Action.UNCHANGED,
        "issuing.crl": Action.UNCHANGED,
    }
    versions = s3.list_object_versions(Bucket=name, Prefix="crls/")["Versions"]
    assert len(versions) == 2  # one PutObject per CRL: the second run wrote nothing
    (key,) = url_objects(issuing_url(world), [v["Key"] for v in versions])
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == revoked
    hits = dict(world.server.hits)
    store_only = overrides | {"CRL_STORE_URI": store, "REVOCATION_FETCH": "store-only"}
    assert invoke(alice.cert_pem(), env=store_only)[:2] == ("Allow", None)
    assert invoke(eve.cert_pem(), env=store_only)[:2] == ("Deny", "REVOKED")
    assert world.server.hits == hits


def test_store_only_decides_from_the_store_and_never_asks_the_live_server(world: World, invoke: Invoke) -> None:
    """The leaf names a CDP and an OCSP responder on a live server; with store-only neither is asked."""
    alice, eve = world.client(), world.client("eve")
    world.store_crl(world.issuing, {eve.cert.serial_number: dt.datetime.now(dt.UTC) - HOUR})
    world.store_crl(world.root, {}, name="root.crl")
    settings = {"CRL_STORE_URI": world.crl_store.as_uri(), "REVOCATION_FETCH": "store-only"}
    assert invoke(alice.cert_pem(), env=settings)[:2] == ("Allow", None)
    assert invoke(eve.cert_pem(), env=settings)[:2] == ("Deny", "REVOKED")
    assert world.server.hits == {}
    # without the setting the same decision fetches (the server is live and asked)
    assert invoke(alice.cert_pem(), env={"CRL_STORE_URI": world.crl_store.as_uri()})[:2] == ("Allow", None)
    assert world.server.hits


def test_store_only_never_passes_a_certificate_whose_sources_were_not_asked(world: World, invoke: Invoke) -> None:
    """An OCSP-only leaf has a source: not asking it leaves it unanswered, so hard-fail denies (fail closed)."""
    ocsp_only = world.client(with_crl_url=False)
    world.store_crl(world.root, {}, name="root.crl")
    settings = {"CRL_STORE_URI": world.crl_store.as_uri(), "REVOCATION_FETCH": "store-only"}
    assert invoke(ocsp_only.cert_pem(), env=settings)[:2] == ("Deny", "REVOCATION_UNAVAILABLE")
    assert world.server.hits == {}


def test_revocation_fetch_setting() -> None:
    base = {"TRUSTSTORE_URI": "file:///ts.pem"}
    assert load_settings(base).revocation_fetch is RevocationFetch.ON
    assert load_settings(base | {"REVOCATION_FETCH": "store-only"}).revocation_fetch is RevocationFetch.STORE_ONLY
    with pytest.raises(ConfigError, match="REVOCATION_FETCH"):
        load_settings(base | {"REVOCATION_FETCH": "never"})


def test_nodegate_mirror_command_against_the_dev_pki_server(tmp_path: Path) -> None:
    """`nodegate mirror --dry-run` prints what it would write and writes nothing; then a run writes, and the
    next one finds nothing changed."""
    import subprocess
    import sys

    from nodegate.local.stack import free_port

    nodegate = str(Path(sys.executable).parent / "nodegate")
    port = free_port()
    pki, store = tmp_path / "pki", tmp_path / "store"
    store.mkdir()
    subprocess.run([nodegate, "pki", "init", str(pki), "--url", f"http://127.0.0.1:{port}"], check=True)
    server = subprocess.Popen([nodegate, "pki", "serve", str(pki)], stdout=subprocess.PIPE, text=True)
    environment = {
        "PATH": "/usr/bin:/bin",
        "TRUSTSTORE_URI": (pki / "truststore.pem").as_uri(),
        "CRL_STORE_URI": store.as_uri(),
        "CRL_MIRROR_URLS": f"http://127.0.0.1:{port}/crl/issuing.crl",
        "FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
    }

    def mirror(*args: str) -> subprocess.CompletedProcess[str]:
        command = [nodegate, "mirror", *args]
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)

    try:
        assert "OCSP at" in (server.stdout.readline() if server.stdout else "")
        dry = mirror("--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert [line.split()[0] for line in dry.stdout.splitlines() if "://" in line] == ["would-write"] * 2
        assert list(store.iterdir()) == []
        assert [line.split()[0] for line in mirror().stdout.splitlines() if "->" in line] == ["written"] * 2
        assert [line.split()[0] for line in mirror().stdout.splitlines() if "->" in line] == ["unchanged"] * 2
        assert len(list(store.iterdir())) == 2
        environment["CRL_MIRROR_URLS"] = "ftp://127.0.0.1/x.crl"
        broken = mirror()
        assert broken.returncode == 1
        assert broken.stderr.startswith("nodegate mirror: error: configuration: CRL_MIRROR_URLS")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_local_stack_runs_the_mirror_on_a_timer(tmp_path: Path) -> None:
    """`nodegate up`'s stack: the mirror stores both dev CRLs at start, and a revocation reaches the store."""
    import time

    import boto3

    from nodegate.local.stack import BUCKET, running_stack

    with running_stack(tmp_path / "pki", mirror_seconds=0.3, policy=None) as stack:
        s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint)  # the stack sets the credentials

        def mirrored() -> dict[str, bytes]:
            listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="crls/mirror-").get("Contents", [])
            return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}

        before = mirrored()
        assert len(before) == 2
        bob = stack.pki.issue("bob", "node-2")
        time.sleep(1.1)  # the dev PKI numbers its CRLs by the second
        stack.pki.revoke(str(bob))
        serial = x509.load_pem_x509_certificate(bob.read_bytes()).serial_number
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = {revoked.serial_number for data in mirrored().values() for revoked in x509.load_der_x509_crl(data)}
            if serial in listed:
                break
            time.sleep(0.2)
        assert serial in listed


def test_lambda_handler_publishes_the_metric_the_alarm_watches(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util
    import json

    entry = Path(__file__).resolve().parents[2] / "src" / "authorizer" / "mirror_app.py"
    spec = importlib.util.spec_from_file_location("mirror_app", entry)  # the module the template's Handler names
    assert spec is not None
    assert spec.loader is not None
    mirror_app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mirror_app)
    serve(world, root=crl(world.root), issuing=crl(world.issuing))
    for key, value in (env(world) | {"POWERTOOLS_METRICS_DISABLED": "false"}).items():
        monkeypatch.setenv(key, value)
    summary = mirror_app.lambda_handler({"source": "aws.events"}, None)
    assert summary["error"] is None
    assert [r["action"] for r in summary["results"]] == [Action.WRITTEN, Action.WRITTEN]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    by_name = {m["Name"]: (doc, d) for doc in emitted for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    doc, directive = by_name["CrlSecondsToNextUpdateMin"]
    assert (directive["Namespace"], directive["Dimensions"], doc["service"]) == (
        "nodegate",
        [["service"]],
        "crl-mirror",
    )
    assert 17000 < doc["CrlSecondsToNextUpdateMin"][0] <= 18000  # nextUpdate NOW + 5 h, run a moment later
    assert by_name["CrlAgeSeconds"][1]["Dimensions"] == [["service", "Issuer"]]


ROOT_CA = CertificateAuthority.root("judge root")
ISSUING_CA = ROOT_CA.sub_ca("judge issuing")
FOREIGN_KEY = new_key()


@settings(max_examples=80, deadline=None)
@given(
    this_hours=st.integers(-72, 3),
    valid_hours=st.integers(0, 72),
    number=st.none() | st.integers(0, 6),
    stored_number=st.none() | st.integers(0, 6),
    foreign=st.booleans(),
    others=st.lists(st.integers(0, 9), max_size=3),
)
def test_judge_writes_exactly_the_crls_every_rule_allows(
    this_hours: int, valid_hours: int, number: int | None, stored_number: int | None, foreign: bool, others: list[int]
) -> None:
    """Generated CRLs: written iff signed by the issuing CA, thisUpdate not in the future, nextUpdate not
    passed (both with the 60 s skew), a cRLNumber, and a number above the stored copy's of its scope; the root's
    CRLs stored beside it (another issuer, any number) change nothing."""
    from nodegate_authorizer.chain import PathPolicy
    from nodegate_authorizer.mirror import judge
    from nodegate_authorizer.truststore import parse_truststore

    this_update = NOW + dt.timedelta(hours=this_hours)
    next_update = this_update + dt.timedelta(hours=valid_hours)
    builder = x509.CertificateRevocationListBuilder().issuer_name(ISSUING_CA.cert.subject)
    builder = builder.last_update(this_update).next_update(next_update)
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    fetched = crl_der(builder.sign(FOREIGN_KEY if foreign else ISSUING_CA.key, hashes.SHA256()))
    stored = [crl(ROOT_CA, number=n) for n in others]
    stored += [] if stored_number is None else [crl(ISSUING_CA, number=stored_number, this_update=NOW - 2 * HOUR)]
    truststore = parse_truststore(pem(ROOT_CA.cert, ISSUING_CA.cert))
    skew = dt.timedelta(seconds=60)
    index, why = judge(fetched, stored, truststore, NOW, skew, PathPolicy())
    write = index is not None
    expected = (
        not foreign
        and this_update <= NOW + skew
        and next_update + skew >= NOW
        and number is not None
        and (stored_number is None or number > stored_number)
    )
    assert write is expected, why
    assert bool(why) is not write


PUBLICATIONS = st.lists(st.tuples(st.sampled_from(["issuing", "root"]), st.integers(1, 5)), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(publications=[("issuing", 2), ("root", 1), ("issuing", 1)], revoked_from=2)
@given(publications=PUBLICATIONS, revoked_from=st.integers(1, 5))
def test_no_order_of_publications_at_one_url_rolls_a_scope_back(
    world: World, invoke: Invoke, publications: list[tuple[str, int]], revoked_from: int
) -> None:
    """A CDP (or anyone on its plain-HTTP path) serves validly signed CRLs of either truststore CA, in any order,
    at the issuing CA's URL; the issuing CA revokes eve from CRL #``revoked_from`` on. After every mirror run the
    store still holds the highest issuing CRL served so far (RFC 5280 5.2.3: cRLNumbers only increase per issuer
    and scope, whatever another issuer's CRL was served in between), so a cold authorizer with
    REVOCATION_FETCH=store-only denies eve exactly when a CRL revoking her was ever served."""
    for path in world.crl_store.iterdir():
        path.unlink()
    eve = world.client("eve")
    authorities = {"issuing": world.issuing, "root": world.root}

    def published(ca: str, number: int) -> bytes:
        revoked = {eve.cert.serial_number: NOW - HOUR} if ca == "issuing" and number >= revoked_from else {}
        when = NOW - dt.timedelta(minutes=10 - number)
        return crl_der(authorities[ca].crl(revoked, number=number, this_update=when, next_update=NOW + 5 * HOUR))

    store_only = {"CRL_STORE_URI": world.crl_store.as_uri(), "REVOCATION_FETCH": "store-only"}
    highest = 0
    for ca, number in publications:
        serve(world, root=published("root", 1), issuing=published(ca, number))
        assert run(world).error is None
        highest = max(highest, number) if ca == "issuing" else highest
        stored_numbers = [
            index.number
            for path in world.crl_store.iterdir()
            if (index := parse_crl(path.read_bytes())).issuer == canonical(world.issuing.cert.subject)
        ]
        assert max(stored_numbers, default=0) == highest
        authorizer.reset()  # a cold runtime: nothing remembered from earlier decisions
        expected = ("Deny", "REVOKED") if highest >= revoked_from else ("Allow", None)
        expected = expected if highest else ("Deny", "REVOCATION_UNAVAILABLE")
        assert invoke(eve.cert_pem(), node="node-1", env=store_only)[:2] == expected
