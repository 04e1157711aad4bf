"""bench_sync.py --samba: service provisioning sync from a real Samba AD DC (see bench_sync.py)."""

from __future__ import annotations

import os
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import bench_users as b
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server, Tls

from openmps.sync.ldap_source import LdapSource
from openmps.sync.runner import Run, sync
from openmps.sync.source import SourceConnection
from openmps.types import DN, Secret

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "samba-dc.sh"
DOMAIN = "DC=hosting,DC=test"
SCOPE = f"OU=bench,{DOMAIN}"
SYSTEM_PYTHON = "/usr/bin/python3"  # the one Debian's Samba bindings import under


@contextmanager
def domain_controller() -> Iterator[tuple[SourceConnection, Connection, Path]]:
    """A DC of this run's own, the source's connection to it, a connection to change it, its folder."""
    with tempfile.TemporaryDirectory(prefix="openmps-bench-dc-") as folder:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", folder, "hosting.test"], capture_output=True, text=True
        )
        try:
            if started.returncode != 0:
                raise SystemExit(f"samba-dc.sh failed: {started.stderr}")
            printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
            password = Path(printed["password_file"]).read_text()
            ca = printed["ca_file"]  # the DC's certificate, as samba-dc.sh prints it
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca)
            conn = Connection(
                Server(printed["url"], get_info=None, tls=tls),
                printed["bind_dn"],
                password,
                auto_bind=True,
                raise_exceptions=True,
            )
            source = SourceConnection(
                printed["url"], printed["bind_dn"], Secret(password), include_ous=(SCOPE,), ca_file=ca
            )
            try:
                yield source, conn, Path(folder)
            finally:
                conn.unbind()
        finally:
            subprocess.run(["bash", str(SCRIPT), "stop", folder], check=False)


def user_dn(u: int) -> str:
    return f"CN=s{u},{SCOPE}"


def add_user(conn: Connection, u: int) -> None:
    conn.add(
        user_dn(u),
        ["top", "person", "organizationalPerson", "user"],
        {"sAMAccountName": f"s{u}", "mail": f"s{u}@bench.example", "displayName": f"Sync User {u}"},
    )


def populate(conn: Connection, users: int, contacts: int, groups: int) -> float:
    """The forest, added over one connection; objects per second."""
    started = time.perf_counter()
    conn.add(SCOPE, ["top", "organizationalUnit"])
    for u in range(users):
        add_user(conn, u)
    for c in range(contacts):
        conn.add(
            f"CN=c{c},{SCOPE}",
            ["top", "person", "organizationalPerson", "contact"],
            {"mail": f"c{c}@partner.example"},
        )
    for g in range(groups):
        members = [user_dn(m) for m in range(g * 10, g * 10 + 10) if m < users]
        conn.add(
            f"CN=g{g},{SCOPE}",
            ["top", "group"],
            {"sAMAccountName": f"g{g}", "groupType": 8, "member": members},
        )
    return (1 + users + contacts + groups) / (time.perf_counter() - started)


def populate_offline(folder: Path, users: int, contacts: int, groups: int) -> float | None:
    """The same forest added into the DC's sam.ldb by Samba's own bindings (samba_populate.py);
    objects per second, or None where the system's Python has no Samba bindings."""
    helper = Path(__file__).resolve().parent / "samba_populate.py"
    counts = [str(users), str(contacts), str(groups)]
    done = subprocess.run(
        [SYSTEM_PYTHON, str(helper), str(folder), SCOPE, *counts],
        capture_output=True,
        text=True,
        env={**os.environ, "TDB_NO_FSYNC": "1"},
    )
    if done.returncode != 0:
        if "No module named 'samba'" in done.stderr or not Path(SYSTEM_PYTHON).exists():
            return None
        raise SystemExit(f"samba_populate.py failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip())


def change(conn: Connection, users: int, groups: int) -> str:
    """1% new users, 1% deleted, 5% of the objects modified: what was done."""
    objects = users + users // 10 + users // 20
    one, modified = max(1, objects // 100), max(1, objects * 5 // 100)
    for u in range(users, users + one):
        add_user(conn, u)
    for u in range(one):
        conn.delete(user_dn(u))
    changed_groups = min(groups, max(1, modified // 20))
    for k, g in enumerate(range(groups - changed_groups, groups)):  # the last groups: none deleted
        conn.modify(  # a member out, and in a user of no group
            f"CN=g{g},{SCOPE}",
            {"member": [(MODIFY_DELETE, [user_dn(g * 10 + 9)]), (MODIFY_ADD, [user_dn(users - 1 - k)])]},
        )
    retitled = modified - changed_groups
    for u in range(one, one + retitled):
        conn.modify(user_dn(u), {"title": [(MODIFY_REPLACE, [f"changed {u}"])]})
    return (
        f"{one} new users, {one} deleted users, {changed_groups} groups with a changed member, "
        f"{retitled} users with a changed title (it flows through ModifyUser)"
    )


def timed(run: Callable[[], Run]) -> tuple[Run, float]:
    started = time.perf_counter()
    done = run()
    return done, time.perf_counter() - started


def samba(scale: float, baseline: int, *, offline: bool = True) -> None:
    users, contacts, groups = int(10_000 * scale), int(1_000 * scale), int(500 * scale)
    org = DN.from_path(b.ORG)
    with domain_controller() as (connection, conn, folder), tempfile.TemporaryDirectory() as tmp:
        added = populate_offline(folder, users, contacts, groups) if offline else None
        if added is not None:
            print(f"populated the DC's sam.ldb with Samba's bindings: {added:.0f} objects/s")
        else:
            added = populate(conn, users, contacts, groups)
            print(f"populated the DC over one LDAP connection: {added:.0f} objects/s")
        d = b.prepare(Path(tmp) / "home", mailboxes=baseline + users + users // 100 + 1)
        created = b.in_process(d, baseline, "BaseMail")
        print(
            f"CreateBusinessUser with BaseMail, a request each ({baseline}, baseline): {created:.1f} users/s"
        )
        source = LdapSource(connection)
        first, initial = timed(lambda: sync(d, org, source))
        assert not first.errors, first.errors[:3]
        objects = users + contacts + groups
        print(
            f"initial sync of {users} users, {contacts} contacts, {groups} groups from Samba: "
            f"{initial:.1f} s, {objects / initial:.1f} objects/s, users {users / initial:.1f}/s "
            f"(to the baseline: objects/s {objects / initial / created:.2f}, "
            f"users/s {users / initial / created:.2f})"
        )
        again, unchanged = timed(lambda: sync(d, org, source))
        assert not again.actions and not again.errors
        print(f"delta with no change: {unchanged:.2f} s (goal 1 s)")
        what = change(conn, users, groups)
        delta, changed = timed(lambda: sync(d, org, source))
        assert not delta.errors, delta.errors[:3]
        print(f"delta after {what}: {delta.counts}: {changed:.2f} s (goal 10 s)")
