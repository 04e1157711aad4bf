"""Service provisioning sync from an LDIF snapshot (the engine side of issue 14), beside
CreateBusinessUser with the same plan, measured in the same run.

    ./scripts/bench.sh bench/bench_sync.py [--users 1000]

The snapshot holds ``users`` users with mail, a tenth as many contacts and a twentieth as many
distribution groups of ten members each.  Measured: the initial sync (every object created through
the Python door, a savepoint each, batches of 200), a re-run with no change, and a delta of 1%
new users, 1% deleted users (disconnected) and 5% of the objects modified (groups with a changed
member, and users with a changed title, which flows through ModifyUser), each after the other.  The
baseline creates ``--baseline`` users (2,000: a fixed number, whatever ``--users``) with BaseMail
through CreateBusinessUser, a request each, in the same organization first.  Every synced user gets
a BaseMail mailbox (the default rule), so the organization's storage is sized from ``--users``.

    ./scripts/bench.sh bench/bench_sync.py --samba [--scale 0.1]

With ``--samba``: the source is a real Samba AD DC (scripts/samba-dc.sh, started and stopped here;
root needed) holding 10,000 users, 1,000 contacts and 500 groups of ten members (times ``--scale``),
added into its sam.ldb by Samba's own bindings (samba_populate.py) or, with ``--over-ldap``, over
one ldap3 connection (the rate is printed); the sync reads it with DirSync.  Measured:
the initial sync, a delta with nothing changed, and a delta after 1% new users, 1% deleted users
and 5% modified objects (users' title, which flows through ModifyUser, and groups' members),
each beside CreateBusinessUser with BaseMail (``--baseline`` users) in the
same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_users as b

from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import sync
from openmps.types import DN

BASE = "OU=Staff,DC=corp,DC=example"


def guid(kind: str, i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}{i}"))


def forest(users: range, contacts: int, groups: int, shifted: int = 0, titled: range = range(0)) -> bytes:
    """The snapshot: group ``g`` holds users ``10g`` to ``10g+9`` (those in ``users``), the first
    ``shifted`` groups one user further; the users in ``titled`` have a title."""
    lines = []
    for u in users:
        lines += [
            f"dn: CN=s{u},{BASE}",
            "objectClass: user",
            f"cn: s{u}",
            f"objectGUID: {guid('u', u)}",
            f"mail: s{u}@bench.example",
            f"displayName: Sync User {u}",
            *([f"title: changed {u}"] if u in titled else []),
            "",
        ]
    for c in range(contacts):
        lines += [
            f"dn: CN=c{c},{BASE}",
            "objectClass: contact",
            f"cn: c{c}",
            f"objectGUID: {guid('c', c)}",
            f"mail: c{c}@partner.example",
            "",
        ]
    for g in range(groups):
        first = g * 10 + (1 if g < shifted else 0)
        members = [f"member: CN=s{m},{BASE}" for m in range(first, first + 10) if m in users]
        lines += [f"dn: CN=g{g},{BASE}", "objectClass: group", f"cn: g{g}", f"objectGUID: {guid('g', g)}"]
        lines += ["groupType: 8", *members, ""]
    return "\n".join(lines).encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--samba", action="store_true", help="the source is a Samba AD DC over LDAP")
    parser.add_argument("--scale", type=float, default=1.0, help="--samba: times 10,000/1,000/500 objects")
    parser.add_argument("--baseline", type=int, default=2000, help="CreateBusinessUser requests")
    parser.add_argument(
        "--over-ldap", action="store_true", help="--samba: populate over LDAP, not with Samba's bindings"
    )
    options = parser.parse_args()
    if options.samba:
        from bench_sync_samba import samba

        samba(options.scale, options.baseline, offline=not options.over_ldap)
        return
    n = options.users
    contacts, groups, one = n // 10, n // 20, max(1, n // 100)
    objects = n + contacts + groups
    # the delta: 1% new users, 1% deleted, 5% of the objects modified (groups' members, users' title)
    modified = max(1, objects * 5 // 100)
    shifted = min(groups, max(1, modified // 20))
    titled = range(one, one + modified - shifted)
    org = DN.from_path(b.ORG)
    with tempfile.TemporaryDirectory() as tmp:
        # a mailbox for each baseline user, each synced user and each user the delta adds
        d = b.prepare(Path(tmp) / "home", mailboxes=options.baseline + n + one)
        created = b.in_process(d, options.baseline, "BaseMail")
        print(
            f"CreateBusinessUser with BaseMail, a request each ({options.baseline}, baseline): "
            f"{created:.1f} users/s",
            flush=True,
        )
        snapshot = forest(range(n), contacts, groups)
        started = time.perf_counter()
        first = sync(d, org, LdifSource(snapshot))
        initial = time.perf_counter() - started
        assert not first.errors, first.errors[:3]
        print(
            f"initial sync of {n} users, {contacts} contacts, {groups} groups: {initial:.1f} s, "
            f"{objects / initial:.1f} objects/s, users {n / initial:.1f}/s "
            f"(ratio to the baseline {n / initial / created:.2f})",
            flush=True,
        )
        started = time.perf_counter()
        again = sync(d, org, LdifSource(snapshot))
        unchanged = time.perf_counter() - started
        assert not again.actions
        print(f"re-run with no change (the whole snapshot read and compared): {unchanged:.2f} s", flush=True)
        changed_snapshot = forest(range(one, n + one), contacts, groups, shifted, titled)
        started = time.perf_counter()
        delta = sync(d, org, LdifSource(changed_snapshot))
        changed = time.perf_counter() - started
        assert not delta.errors, delta.errors[:3]
    print(
        f"delta after {one} new users, {one} deleted users, {shifted} groups with a changed member, "
        f"{len(titled)} users with a changed title: {delta.counts}: {changed:.2f} s"
    )


if __name__ == "__main__":
    main()
