"""Import throughput: users brought under management by ``openmps import`` (MPS Import), beside
CreateBusinessUser with the same plan, measured in the same run.

    ./scripts/bench.sh bench/bench_import.py [--orgs 100] [--users 100]

The file holds ``orgs`` organizations of ``users`` users each, every user with a mailbox (a
quota and a home store); the import checks the whole file first, adds the raw entries in one
transaction, then imports the organizations and users (bulk requests of 200, each item on its
own); a second run offers BaseMail to the organizations and applies it.  The baseline creates
the same number of users with BaseMail through CreateBusinessUser, one request each.  Ratios
compare the two; absolute rates drift with the machine.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_users as b

from openmps.directory.ldif import read_entries
from openmps.migration import migrate

STORE = (
    "CN=IMP0,CN=First Storage Group,CN=InformationStore,CN=EXI,CN=Servers,CN=First Administrative Group,"
    "CN=Administrative Groups,CN=fabrikam,CN=Microsoft Exchange,CN=Services,CN=Configuration,"
    "DC=fabrikam,DC=com"
)
IMPORT_STORE = (
    '<request><procedure><execute namespace="Exchange Resource Manager" procedure="AddExchangeResources">'
    "<executeData><mailStores><mailStore><serverName>EXI</serverName><mailStoreName>IMP0</mailStoreName>"
    "<megabytes>1000000</megabytes><shared>1</shared></mailStore></mailStores></executeData>"
    "</execute></procedure></request>"
)


def ldif(orgs: int, users: int) -> bytes:
    lines = ["version: 1", ""]
    for o in range(orgs):
        org = f"OU=imp{o},OU=WH,OU=Hosting,DC=fabrikam,DC=com"
        lines += [
            f"dn: {org}",
            "objectClass: organizationalUnit",
            f"ou: imp{o}",
            f"uPNSuffixes: imp{o}.example",
            "",
        ]
        for u in range(users):
            lines += [
                f"dn: CN=User {u},{org}",
                "objectClass: user",
                f"cn: User {u}",
                f"userPrincipalName: u{u}@imp{o}.example",
                f"homeMDB: {STORE}",
                "mDBOverQuotaLimit: 10000",
                "",
            ]
    return "\n".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--users", type=int, default=100)
    options = parser.parse_args()
    total = options.orgs * options.users
    with tempfile.TemporaryDirectory() as tmp:
        d = b.prepare(Path(tmp) / "home")
        created = b.in_process(d, total, "BaseMail")
        assert d.submit(IMPORT_STORE).ok  # where the migrated mailboxes live
        entries = read_entries(io.BytesIO(ldif(options.orgs, options.users)))
        started = time.perf_counter()
        report = migrate(d, entries, dry_run=True)
        checked = time.perf_counter() - started
        assert not report.conflicts, report.conflicts[:3]
        first = migrate(d, entries)  # organizations and users, without a plan yet
        elapsed = time.perf_counter() - started
        assert all(i.ok for i in first.items), [i for i in first.items if not i.ok][:3]
        started = time.perf_counter()
        # the plan offered to the organizations and applied: a second, idempotent run
        again = migrate(d, entries, plan="BaseMail")
        applied = time.perf_counter() - started
        assert all(i.ok for i in again.items)
    imported = total / elapsed
    rows = [
        ("CreateBusinessUser with BaseMail, a request each (baseline)", total, created, "1.00"),
        (
            "import: check, add raw entries, ImportOrganization/ImportUser",
            total,
            imported,
            f"{imported / created:.2f}",
        ),
        ("re-run applying BaseMail (idempotent)", total, total / applied, f"{total / applied / created:.2f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"dry-run check of {total} users in {options.orgs} organizations: {checked:.1f} s")
    print(f"{'benchmark':<{width}}  {'users':>6}  {'users/s':>9}  ratio")
    for name, n, rate, ratio in rows:
        print(f"{name:<{width}}  {n:>6}  {rate:>9.1f}  {ratio}")


if __name__ == "__main__":
    main()
