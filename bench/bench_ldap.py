"""OpenMPS over each LDAP backend (OpenLDAP, Samba AD) beside raw ldap3 on the same server, in the same run.

    ./scripts/bench.sh bench/bench_ldap.py [--server openldap|samba|both] [--users 300] [--reads 40]

Each server is started by the project's own script: a private slapd by scripts/openldap.sh (mdb with
``dbnosync``, as the tests run it: the server's disk flushes would hide the client's cost), a Samba
AD DC by scripts/samba-dc.sh (ldaps://, durability off, as the tests run it); a deployment is
initialized on each and the same rows measured there.  Rows, per server:
Each OpenMPS row is measured in runs alternating with its raw row's (a busy machine slows both).
* raw ldap3 add: what one CreateBusinessUser with a plan leaves on the server, a user entry with
  every attribute the request wrote (read back from one made by OpenMPS on that server; unique
  values, identities and names changed) and its DN added to the organization's AllUsers group, one
  connection, ldap3's own requests (pyasn1; OpenMPS writes the BER of its adds and modifies itself,
  ``directory/ldap/wire.py``, the same bytes).  On Samba AD the attributes the DC maintains itself
  are left out (``AD_MAINTAINED``: objectGUID, objectSid, the USNs and times, memberOf, the logon
  counters...): AD refuses most of them in an add and assigns the rest;
* CreateBusinessUser with BaseMail, a request each, in-process (SQL: the Resource Manager, plans,
  audit and the claims; LDAP: the entry, the membership, the mailbox attributes);
* raw ldap3 search: an organization's 50 users, one subtree search for ``objectClass=user`` with
  all their attributes, p50 of ``--reads`` runs;
* GetBusinessUsers of the same organization, p50 of as many requests.
Ratios compare each OpenMPS row with its raw row (rates: OpenMPS / raw; latencies: raw / OpenMPS).
"""

from __future__ import annotations

import argparse
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ldap3 import MODIFY_ADD, SUBTREE, Connection, Server, Tls

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_users as b

from openmps.app import Deployment, DirectoryServerChoice

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
ORG_DN = "OU=bench,OU=WH,OU=Hosting,DC=fabrikam,DC=com"
FIFTY = "LDAP://OU=fifty,OU=WH,OU=Hosting,DC=fabrikam,DC=com"
BINARY = ("objectguid", "objectsid", "msexchmailboxguid")
# what a Samba AD DC keeps on a user itself (read back with "*"): left out of the raw add there
AD_MAINTAINED = frozenset(
    name.lower()
    for name in [
        "objectGUID",
        "objectSid",
        "instanceType",
        "whenCreated",
        "whenChanged",
        "uSNCreated",
        "uSNChanged",
        "name",
        "distinguishedName",
        "objectCategory",
        "sAMAccountType",
        "primaryGroupID",
        "memberOf",
        "badPwdCount",
        "badPasswordTime",
        "codePage",
        "countryCode",
        "lastLogoff",
        "lastLogon",
        "logonCount",
        "pwdLastSet",
        "accountExpires",
    ]
)


@contextmanager
def started(kind: str) -> Iterator[dict[str, str]]:
    """A server of this run's own, ``openldap`` or ``samba``, for fabrikam.com: what its script prints."""
    with tempfile.TemporaryDirectory(prefix=f"openmps-bench-{kind}-") as tmp:
        folder = Path(tmp) / kind
        if kind == "openldap":
            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            command, arguments = SCRIPTS / "openldap.sh", [str(port), "fabrikam.com"]
        else:
            command, arguments = SCRIPTS / "samba-dc.sh", ["fabrikam.com"]
        done = subprocess.run(
            ["bash", str(command), "start", str(folder), *arguments],
            capture_output=True,
            text=True,
            env={**os.environ, "OPENMPS_LDAP_NOSYNC": "1"},
        )
        try:
            if done.returncode != 0:
                raise SystemExit(f"{command.name} failed: {done.stderr}")
            yield dict(line.split("=", 1) for line in done.stdout.splitlines())
        finally:
            subprocess.run(["bash", str(command), "stop", str(folder)], check=False)


def choice(server: dict[str, str]) -> DirectoryServerChoice:
    ca = Path(server["ca_file"]) if "ca_file" in server else None
    return DirectoryServerChoice(server["url"], server["bind_dn"], Path(server["password_file"]), ca_file=ca)


def connect(server: dict[str, str]) -> Connection:
    password = Path(server["password_file"]).read_text()
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=server["ca_file"]) if "ca_file" in server else None
    return Connection(
        Server(server["url"], get_info=None, tls=tls), server["bind_dn"], password, auto_bind=True
    )


def openmps_user(d: Deployment, prefix: str, container: str = b.ORG) -> Callable[[int], None]:
    """CreateBusinessUser with BaseMail of the ``i``-th user, a request each."""
    admin = d.administrator()

    def one(i: int) -> None:
        document = b.request(
            "CreateBusinessUser",
            container=container,
            userPrincipalName=f"{prefix}{i}@bench.example",
            isAdmin="false",
            displayName=f"User {i}",
            planName="BaseMail",
        )
        outcome = d.submit(document, admin)
        assert outcome.ok, outcome.to_bytes()

    return one


def raw_user(conn: Connection, ad: bool) -> Callable[[int], None]:
    """The ``i``-th user as OpenMPS leaves it on the server, added with ldap3 (see the module's doc)."""
    conn.search(ORG_DN, "(userPrincipalName=model0@bench.example)", SUBTREE, attributes=["*"])
    [model] = conn.response
    left_out = AD_MAINTAINED if ad else frozenset()
    template = {k: v for k, v in model["raw_attributes"].items() if v and k.lower() not in left_out}
    conn.search(ORG_DN, f"(member={model['dn']})", SUBTREE, attributes=["1.1"])
    [group] = [g["dn"] for g in conn.response]  # AllUsers@bench

    def one(i: int) -> None:
        upn = f"raw{i}@bench.example"
        attributes: dict[str, Any] = dict(template)
        for name in list(attributes):
            key = name.lower()
            if key in BINARY:
                attributes[name] = [uuid.uuid4().bytes_le if key != "objectsid" else _sid(900000 + i)]
            elif key in ("cn", "userprincipalname", "mail"):
                attributes[name] = [upn]
            elif key == "samaccountname":
                attributes[name] = [f"raw{i}_bench"]
            elif key == "proxyaddresses":
                attributes[name] = [f"SMTP:{upn}"]
            elif key == "mailnickname":
                attributes[name] = [f"raw{i}"]
        dn = f"CN={upn},{ORG_DN}"
        assert conn.add(dn, attributes=attributes), conn.result
        assert conn.modify(group, {"member": [(MODIFY_ADD, [dn])]}), conn.result

    return one


def interleaved(n: int, first: Callable[[int], None], second: Callable[[int], None]) -> tuple[float, float]:
    """The rates of ``first`` and ``second`` over ``n`` calls each, taken in alternating runs of
    ten, so a machine busy with something else slows both alike."""
    spent = [0.0, 0.0]
    for start in range(0, n, 10):
        for k, work in enumerate((first, second)):
            started = time.perf_counter()
            for i in range(start, min(start + 10, n)):
                work(i)
            spent[k] += time.perf_counter() - started
    return n / spent[0], n / spent[1]


def _sid(rid: int) -> bytes:
    subs = (21, 1, 2, 3, rid)
    return bytes([1, len(subs), 0, 0, 0, 0, 0, 5]) + b"".join(s.to_bytes(4, "little") for s in subs)


def p50s(runs: int, first: Callable[[], None], second: Callable[[], None]) -> tuple[float, float]:
    """The medians of ``runs`` timings of ``first`` and of ``second``, taken alternately, in ms."""
    first()  # warm
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for k, one in enumerate((first, second)):
            started = time.perf_counter()
            one()
            times[k].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(kind: str, users: int, reads: int) -> tuple[str, list[tuple[str, int, str, str]]]:
    """The rows on a server of ``kind`` started for them, and the table's title."""
    with started(kind) as server, tempfile.TemporaryDirectory() as tmp:
        d = b.prepare(Path(tmp) / "home", directory=choice(server))
        admin = d.administrator()
        fifty = b.request(
            "CreateBusinessOrganization",
            container="LDAP://OU=WH,OU=Hosting,DC=fabrikam,DC=com",
            name="fifty",
            SMTPDomain="fifty.example",
        )
        assert d.submit(fifty, admin).ok
        assert d.submit(
            b.request("AddAvailablePlans", path=FIFTY, availablePlans="<planName>BaseMail</planName>"),
            admin,
        ).ok
        openmps_user(d, "model")(0)
        conn = connect(server)
        rows: list[tuple[str, int, str, str]] = []
        raw, made = interleaved(users, raw_user(conn, ad=kind == "samba"), openmps_user(d, "u"))
        rows.append(("raw ldap3 add of the same entries (baseline)", users, f"{raw:.1f}/s", "1.00"))
        rows.append(("CreateBusinessUser with BaseMail", users, f"{made:.1f}/s", f"{made / raw:.2f} of raw"))
        for i in range(50):
            document = b.request(
                "CreateBusinessUser",
                container=FIFTY,
                userPrincipalName=f"f{i}@fifty.example",
                isAdmin="false",
            )
            assert d.submit(document, admin).ok
        base = "OU=fifty,OU=WH,OU=Hosting,DC=fabrikam,DC=com"

        def raw_search() -> None:
            conn.search(base, "(objectClass=user)", SUBTREE, attributes=["*"])
            assert len(conn.response) == 50

        listing = b.request("GetBusinessUsers", path=FIFTY)

        def get_users() -> None:
            outcome = d.submit(listing, admin)
            assert outcome.ok and outcome.to_bytes().count(b"<user ") == 50, outcome.to_bytes()[:400]

        raw_ms, get_ms = p50s(reads, raw_search, get_users)
        rows.append(("raw ldap3 search of 50 users, p50 (baseline)", reads, f"{raw_ms:.2f} ms", "1.00"))
        rows.append(
            ("GetBusinessUsers of 50 users, p50", reads, f"{get_ms:.2f} ms", f"{raw_ms / get_ms:.2f} of raw")
        )
        conn.unbind()
        d.close_directory()
        name = {"openldap": "OpenLDAP", "samba": "Samba AD"}[kind]
        return f"benchmark ({name} {server['url']})", rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=("openldap", "samba", "both"), default="both")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--reads", type=int, default=40)
    args = parser.parse_args()
    kinds = ("openldap", "samba") if args.server == "both" else (args.server,)
    for kind in kinds:
        title, rows = measure(kind, args.users, args.reads)
        width = max(len(r[0]) for r in rows)
        print(f"{title:<{width}}  {'ops':>5}  {'rate/p50':>10}  ratio")
        for name, n, value, ratio in rows:
            print(f"{name:<{width}}  {n:>5}  {value:>10}  {ratio}")


if __name__ == "__main__":
    main()
