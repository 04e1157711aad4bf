"""Choosing stores among many: organization and mailbox placement over 1,000 mail stores.

    ./scripts/bench.sh bench/bench_placement.py [--stores 1000] [--orgs 2000]

Rows printed:
* baseline, sorting the stores: Python's ``sorted`` over the same (free, name) keys, the least any
  placement that ranks stores must do;
* plan_organization (tightPack, minStoreCount): the pure placement algorithm, per call;
* AllocateOrganization through the engine: placement plus the guarded ledger commit, one request
  per organization, 1,000 stores registered;
* place_mailbox over an organization's slots.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openmps.app import init_deployment
from openmps.resources.placement import (
    MailboxAlgorithm,
    OrgAlgorithm,
    Slot,
    StoreRoom,
    place_mailbox,
    plan_organization,
)
from openmps.types import Secret

MB = 1024


def rate(n: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        work()
    return n / (time.perf_counter() - started)


def request(procedure: str, namespace: str = "Hosted Exchange", **args: str) -> str:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in args.items())
    return (
        f'<request><procedure><execute namespace="{namespace}" procedure="{procedure}">'
        f"<executeData>{body}</executeData></execute></procedure></request>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--orgs", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    rooms = [
        StoreRoom(i, f"MS{i}", 100_000 * MB, rng.randrange(0, 90_000) * MB, True, frozenset())
        for i in range(args.stores)
    ]
    slots = [Slot(i, f"MS{i}", 10_000 * MB, rng.randrange(0, 9_000) * MB) for i in range(20)]
    rows: list[tuple[str, float, str]] = []
    baseline = rate(2000, lambda: sorted((r.free_kb, r.name) for r in rooms))
    rows.append((f"baseline: sort {args.stores} stores", baseline, "1.00"))
    for algorithm in OrgAlgorithm:
        r = rate(
            2000,
            lambda a=algorithm: plan_organization(
                rooms, org="o", kilobytes=5_000 * MB, shared=True, algorithm=a
            ),
        )
        rows.append((f"plan_organization {algorithm.value}", r, f"{r / baseline:.2f} of sort"))
    for mailbox_algorithm in MailboxAlgorithm:
        r = rate(20_000, lambda a=mailbox_algorithm: place_mailbox(slots, kilobytes=20_000, algorithm=a))
        rows.append((f"place_mailbox {mailbox_algorithm.value} (20 slots)", r, ""))

    with tempfile.TemporaryDirectory() as tmp:
        d = init_deployment(
            Path(tmp) / "home", domain="fabrikam.com", admin_password=Secret("Adm1nPassw0rd!")
        )
        stores = "".join(
            f"<mailStore><serverName>EXBE{i // 50:02d}</serverName><mailStoreName>MS{i}</mailStoreName>"
            f"<megabytes>{rng.randrange(50_000, 100_000)}</megabytes><shared>1</shared></mailStore>"
            for i in range(args.stores)
        )
        rm = "Exchange Resource Manager"
        assert d.submit(request("AddExchangeResources", rm, mailStores=stores)).ok
        assert d.submit(
            request("CreateResellerOrganization", container="LDAP://OU=Hosting,DC=fabrikam,DC=com", name="WH")
        ).ok
        orgs = []
        for i in range(args.orgs):
            org = f"LDAP://OU=org{i},OU=WH,OU=Hosting,DC=fabrikam,DC=com"
            created = d.submit(
                request(
                    "CreateBusinessOrganization",
                    container="LDAP://OU=WH,OU=Hosting,DC=fabrikam,DC=com",
                    name=f"org{i}",
                    SMTPDomain=f"org{i}.example",
                )
            )
            assert created.ok
            orgs.append(org)
        admin = d.administrator()
        pending = iter(orgs)

        def allocate() -> None:
            outcome = d.submit(
                request(
                    "AllocateOrganization",
                    rm,
                    organization=next(pending),
                    mailStore="<megabytes>2000</megabytes><shared>1</shared>",
                ),
                admin,
            )
            assert outcome.ok, outcome.to_bytes()

        engine_rate = rate(args.orgs, allocate)
        rows.append((f"AllocateOrganization via engine ({args.stores} stores)", engine_rate, ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'per second':>12}  ratio")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>12.1f}  {ratio}")


if __name__ == "__main__":
    main()
