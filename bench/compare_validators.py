"""Evaluate the validator candidates on the hard cases and time them (`python bench/compare_validators.py`).
The result and the choice are recorded in docs/decisions.md."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from common import new_world, nodegate_decision, pyhanko_decision, timed, use_env, x509_verification_decision

from nodegate.pki.authority import crl_der, utcnow
from nodegate_dev.world import openssl_v1_client


def main() -> None:
    world = new_world()
    roots, others = [world.root.cert], [world.issuing.cert]
    rows: list[tuple[str, str, str, str, str]] = []

    def case(
        title: str,
        expect: str,
        leaf: bytes,
        crls: list[bytes],
        env: dict[str, str],
        setup: Callable[[], None] = lambda: None,
    ) -> None:
        world.responder.crl_override.clear()
        world.server.faults.clear()
        setup()
        use_env(world.env(**env, REVOCATION_CACHE_SECONDS="0"))
        ours = nodegate_decision(leaf)
        theirs = pyhanko_decision(leaf, roots, others, crls, "hard-fail")
        path_only = x509_verification_decision(leaf, roots, others)
        rows.append((title, expect, ours, theirs, path_only))

    # 1. CRL with no CDP in the certificate: the CRL comes from the CRL store / out of band
    no_cdp = world.client("nocdp", with_crl_url=False, with_ocsp_url=False)
    store_crl = world.issuing.crl({no_cdp.cert.serial_number: utcnow()})
    (world.crl_store / "issuing.crl").write_bytes(crl_der(store_crl))
    store_env = {"CRL_STORE_URI": world.crl_store.as_uri() + "/"}
    case("revoked, no CDP, CRL from the store", "Deny", no_cdp.cert_pem(), [crl_der(store_crl)], store_env)
    # 2. OCSP down while the CRL is up
    both = world.client("both")
    case(
        "OCSP down, CRL up (hard-fail)",
        "Allow",
        both.cert_pem(),
        [],
        {},
        lambda: world.server.faults.update(ocsp="500"),
    )
    # 3. intermediate revocation
    revoked_issuing = crl_der(world.root.crl({world.issuing.cert.serial_number: utcnow()}))
    case(
        "intermediate revoked on the root's CRL",
        "Deny",
        both.cert_pem(),
        [],
        {},
        lambda: world.responder.crl_override.update(root=revoked_issuing),
    )
    # 4. v1 leaf, as `openssl x509 -req` makes it
    (world.crl_store / "issuing.crl").write_bytes(crl_der(world.issuing.crl({})))
    v1 = openssl_v1_client(world.issuing, world.tmp)
    case("X.509 v1 leaf (openssl x509 -req)", "Allow", v1, [crl_der(world.issuing.crl({}))], store_env)

    print("| case | expected | nodegate (cryptography + own checks) | pyhanko-certvalidator | x509.verification |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")

    # timing: a valid leaf with CDP + OCSP, everything up
    use_env(world.env())
    leaf = both.cert_pem()
    nodegate_decision(leaf)
    warm = timed(lambda: nodegate_decision(leaf), 300)
    cold = []
    for number in range(20):
        use_env(world.env(REVOCATION_CACHE_SECONDS=str(100 + number)))  # new settings = a cold runtime
        start = time.perf_counter()
        nodegate_decision(leaf)
        cold.append((time.perf_counter() - start) * 1000)
    fresh = timed(lambda: pyhanko_decision(leaf, roots, others, [], "hard-fail"), 20)
    path_only = timed(lambda: x509_verification_decision(leaf, roots, others), 300)
    print("\n| candidate | median ms per decision |")
    print("| --- | --- |")
    print(f"| nodegate, warm (revocation cached) | {statistics.median(warm):.3f} |")
    print(f"| nodegate, cold runtime (fetches CRLs + OCSP) | {statistics.median(cold):.3f} |")
    print(f"| pyhanko-certvalidator, fresh context, live fetching | {statistics.median(fresh):.3f} |")
    print(f"| x509.verification, path only (no revocation) | {statistics.median(path_only):.3f} |")
    world.close()


if __name__ == "__main__":
    main()
