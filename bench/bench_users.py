"""CreateBusinessUser throughput, against baselines measured in the same run.

    ./scripts/bench.sh bench/bench_users.py [--users 2000] [--password-users 64]

Rows printed:
* raw SQLite: the rows one CreateBusinessUser writes (entry, its values, the AllUsers membership,
  the customer record and its billable event,
  the audit record), one transaction per user, with the sqlite3 module on the same schema;
* engine, in-process: CreateBusinessUser requests through ``Deployment.submit`` (no password);
* engine over HTTP: the same through a real ``openmps serve`` on loopback (HTTP Basic, keep-alive,
  the clients in a process of their own: ``bench/http_clients.py``); and with a plan through
  ``serve --workers 2`` from 4 client connections at once, in five turns, each between two
  in-process blocks with a plan (a turn's ratio is to the mean of the two, the median shown: on a
  machine shared with other work the rates drift between blocks), with the CPU the server's
  processes and the clients spent a request; beside them, in the same turns, two processes each
  calling ``Deployment.submit`` on the store (no HTTP): the ceiling SQLite's one write lock sets
  for any two processes, HTTP or not;
* engine, Python door: the same CreateBusinessUser through ``Engine.call`` (typed arguments, typed
  result, no XML parsed or rendered), one per transaction, with its ratio to the XML rows;
* engine in-process, batches: 100 users per request through ``<forEach>`` (one transaction each),
  the way bulk MPS clients send them;
* raw SQLite with a mailbox: the same rows plus what CreateMailbox writes, a transaction per user
  and 100 users per transaction (baselines of the next two);
* engine in-process with a plan: CreateBusinessUser with ``planName`` BaseMail, one per request and
  100 per request (the issue's goal: 1,000 users/s);
* raw Argon2id, 2 threads: the password hash alone, on both cores;
* engine with passwords, 2 threads: CreateBusinessUser with ``newPassword``, two callers at once.
Ratios compare each engine row with its baseline; absolute rates drift with the machine.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from openmps.app import Deployment, DirectoryServerChoice, init_deployment
from openmps.types import DN, Secret, Upn

ADMIN = ("administrator@fabrikam.com", "Adm1nPassw0rd!")
RESELLER = "LDAP://OU=Hosting,DC=fabrikam,DC=com"
ORG = "LDAP://OU=bench,OU=WH,OU=Hosting,DC=fabrikam,DC=com"


def request(procedure: str, **args: str) -> str:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in args.items())
    return (
        f'<request><procedure><execute namespace="Hosted Exchange" procedure="{procedure}">'
        f"<executeData>{body}</executeData>"
        '<after source="executeData" destination="data" mode="merge"/></execute></procedure></request>'
    )


def user_request(i: int, prefix: str, password: str | None = None, plan: str | None = None) -> str:
    extra = {"newPassword": password} if password else {}
    if plan:
        extra["planName"] = plan
    return request(
        "CreateBusinessUser",
        container=ORG,
        userPrincipalName=f"{prefix}{i}@bench.example",
        isAdmin="false",
        displayName=f"User {i}",
        **extra,
    )


MAILBOX_MB = 10  # BaseMail's quota, what the Resource Manager reserves for each mailbox


def prepare(
    home: Path, directory: DirectoryServerChoice | None = None, *, mailboxes: int = 39_000
) -> Deployment:
    """A deployment (its hosting directory in SQL, or on ``directory``) with the organization
    ``bench``, room for ``mailboxes`` BaseMail mailboxes on four stores, and the plan BaseMail
    available to it."""
    d = init_deployment(home, domain="fabrikam.com", admin_password=Secret(ADMIN[1]), directory=directory)
    for document in (
        request("CreateResellerOrganization", container=RESELLER, name="WH"),
        request(
            "CreateBusinessOrganization",
            container="LDAP://OU=WH,OU=Hosting,DC=fabrikam,DC=com",
            name="bench",
            SMTPDomain="bench.example",
        ),
    ):
        assert d.submit(document).ok
    # storage for the mailbox rows: four stores, the organization holds room for every mailbox
    allocated = mailboxes * MAILBOX_MB
    store = max(100_000, -(-allocated // 4))
    stores = "".join(
        f"<mailStore><serverName>EX{i}</serverName><mailStoreName>MS{i}</mailStoreName>"
        f"<megabytes>{store}</megabytes><shared>1</shared></mailStore>"
        for i in range(4)
    )
    for procedure, body in (
        ("AddExchangeResources", f"<mailStores>{stores}</mailStores>"),
        (
            "AllocateOrganization",
            f"<organization>{ORG}</organization><mailStore><megabytes>{allocated}</megabytes></mailStore>",
        ),
    ):
        document = (
            f'<request><procedure><execute namespace="Exchange Resource Manager" procedure="{procedure}">'
            f"<executeData>{body}</executeData></execute></procedure></request>"
        )
        assert d.submit(document).ok
    assert d.submit(request("AddAvailablePlans", path=ORG, availablePlans="<planName>BaseMail</planName>")).ok
    return d


def timed(n: int, work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return n / (time.perf_counter() - started)


MAILBOX_VALUES = (  # what CreateMailbox stamps for BaseMail, besides mail and proxyAddresses
    ("mailNickname", "x"),
    ("msExchQueryBaseDN", "OU=bench,OU=WH,OU=Hosting,DC=fabrikam,DC=com"),
    ("msExchMailboxFolderSet", "108303"),
    ("mDBUseDefaults", "FALSE"),
    ("mDBStorageQuota", "10000"),
    ("mDBOverQuotaLimit", "10000"),
    ("protocolSettings", "IMAP4§0"),
    ("showInAddressBook", "CN=Default Global Address List,CN=All Global Address Lists,CN=fabrikam"),
    ("msExchUserAccountControl", "0"),
    ("homeMDB", "CN=MS0,CN=First Storage Group,CN=InformationStore,CN=EX0,CN=Servers"),
    ("msExchHomeServerName", "/o=fabrikam/ou=First Administrative Group/cn=Configuration/cn=Servers/cn=EX0"),
)


def raw_sqlite(path: Path, n: int, *, mailbox: bool = False, per_transaction: int = 1) -> float:
    """The same rows as CreateBusinessUser, written with the sqlite3 module, ``per_transaction``
    users a transaction; with ``mailbox``, also what CreateMailbox writes (its attributes, the
    Resource Manager's mailbox row and the organization's used space, the user's plan and its PC
    event)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    org = conn.execute("SELECT id, tree_key FROM entries WHERE dn LIKE 'OU=bench,%'").fetchone()
    group = conn.execute("SELECT id FROM entries WHERE dn LIKE 'CN=AllUsers@bench,%'").fetchone()[0]

    def work() -> None:
        for i in range(n):
            upn = f"raw{'m' if mailbox else ''}{per_transaction}x{i}@bench.example"
            dn = f"CN={upn},OU=bench,OU=WH,OU=Hosting,DC=fabrikam,DC=com"
            if i % per_transaction == 0:
                conn.execute("BEGIN IMMEDIATE")
            rid = conn.execute(
                "UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                "WHERE name = 'next_rid' RETURNING value"
            ).fetchone()[0]
            entry = conn.execute(
                "INSERT INTO entries (dn, dn_norm, tree_key, parent_id, object_guid, object_sid) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    dn,
                    dn.lower(),
                    org[1] + f"cn={upn}\x01",
                    org[0],
                    str(uuid.uuid4()),
                    f"S-1-5-21-1-2-3-{rid}",
                ),
            ).fetchone()[0]
            values = [
                ("objectClass", "top"),
                ("objectClass", "person"),
                ("objectClass", "organizationalPerson"),
                ("objectClass", "user"),
                ("cn", upn),
                ("userPrincipalName", upn),
                ("userAccountControl", "514"),
                ("displayName", f"User {i}"),
                ("sAMAccountName", upn.replace("@", "_")[:20]),
            ]
            if mailbox:
                values += [
                    *MAILBOX_VALUES,
                    ("mail", upn),
                    ("proxyAddresses", f"SMTP:{upn}"),
                    ("msExchMailboxGuid", str(uuid.uuid4())),
                ]
            conn.execute(  # one multi-row insert, as the engine writes them
                "INSERT INTO entry_values (entry_id, attr, name, value, value_norm) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?)"] * len(values)),
                [x for a, v in values for x in (entry, a, a.lower(), v, v.lower())],
            )
            conn.execute(
                "INSERT INTO entry_values (entry_id, attr, name, value, value_norm) VALUES (?, ?, ?, ?, ?)",
                (group, "member", "member", dn, dn.lower()),
            )
            guid = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO customers (guid, customer_type, org_guid, name, status, created, modified) "
                "VALUES (?, 'BusinessUser', 'org', ?, 'Enabled', datetime('now'), datetime('now'))",
                (guid, upn),
            )
            conn.execute(
                "INSERT INTO billable_events (at, customer_guid, org_guid, event, detail) "
                "VALUES (datetime('now'), ?, 'org', 'EN', ?)",
                (upn, f"BusinessUser {upn} created"),
            )
            if mailbox:
                # the plan record, as the plans database writes it (one plan per plan type)
                conn.execute("UPDATE customers SET modified = datetime('now') WHERE guid = ?", (guid,))
                conn.execute(
                    "DELETE FROM customer_plans WHERE guid = ? AND plan_type = 'ExchMailbox'", (guid,)
                )
                conn.execute(
                    "INSERT INTO customer_plans (guid, plan_type, plan_id) VALUES (?, 'ExchMailbox', 1)",
                    (guid,),
                )
                conn.execute(
                    "INSERT INTO billable_events (at, customer_guid, org_guid, event, detail) "
                    "VALUES (datetime('now'), ?, 'org', 'PC', '(none) -> BaseMail')",
                    (upn,),
                )
                conn.execute(
                    "UPDATE rm_allocations SET used_kb = used_kb + 10000 WHERE id = (SELECT min(id) FROM "
                    "rm_allocations) AND used_kb + 10000 <= allocated_kb"
                )
                conn.execute(
                    "INSERT INTO rm_mailboxes (mailbox_guid, org_guid, store_id, size_kb) "
                    "VALUES (?, 'org', 1, 10000)",
                    (str(uuid.uuid4()),),
                )
            conn.execute(
                "INSERT INTO audit_log (request_id, at, caller, procedures, outcome, duration_ms) "
                "VALUES (?, datetime('now'), ?, ?, 'success', 0)",
                (str(uuid.uuid4()), "administrator", "Hosted Exchange::CreateBusinessUser"),
            )
            if i % per_transaction == per_transaction - 1 or i == n - 1:
                conn.execute("COMMIT")

    try:
        return timed(n, work)
    finally:
        conn.close()


def in_process(d: Deployment, n: int, plan: str | None = None, *, prefix: str | None = None) -> float:
    admin = d.administrator()
    prefix = prefix or ("engp" if plan else "eng")

    def work() -> None:
        for i in range(n):
            outcome = d.submit(user_request(i, prefix, plan=plan), admin)
            assert outcome.ok, outcome.to_bytes()

    return timed(n, work)


def typed(d: Deployment, n: int, plan: str | None = None) -> float:
    """CreateBusinessUser through the Python door: what REST, SCIM and sync will call."""
    admin = d.administrator()
    prefix = "typp" if plan else "typ"
    container = DN.from_path(ORG)

    def work() -> None:
        for i in range(n):
            arguments = {
                "container": container,
                "userPrincipalName": Upn.parse(f"{prefix}{i}@bench.example"),
                "isAdmin": False,
                "planName": plan,
            }
            d.engine.call("Hosted Exchange", "CreateBusinessUser", arguments, caller=admin)

    return timed(n, work)


def batch_request(start: int, size: int, plan: str | None = None) -> str:
    prefix = "batp" if plan else "bat"
    users = "".join(
        f"<user><userPrincipalName>{prefix}{i}@bench.example</userPrincipalName></user>"
        for i in range(start, start + size)
    )
    mailbox = f"<planName>{plan}</planName>" if plan else ""
    return (
        f"<request><data><users>{users}</users></data><procedure>"
        '<execute namespace="Hosted Exchange" procedure="CreateBusinessUser">'
        '<forEach name="user" root="data" path="users/user"/>'
        f"<executeData><container>{ORG}</container><isAdmin>false</isAdmin>{mailbox}</executeData>"
        '<before source="user" sourcePath="userPrincipalName" destination="executeData"/>'
        "</execute></procedure></request>"
    )


def in_batches(d: Deployment, n: int, size: int = 100, plan: str | None = None) -> float:
    admin = d.administrator()

    def work() -> None:
        for start in range(0, n, size):
            outcome = d.submit(batch_request(start, size, plan), admin)
            assert outcome.ok, outcome.to_bytes()

    return timed(n, work)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real ``openmps serve --workers N`` on the benchmark's store, for the HTTP rows; its load
    clients run in a process of their own (``bench/http_clients.py``)."""

    def __init__(self, home: Path, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.client_cpu = 0.0  # the load clients' CPU seconds in their last run
        command = ["serve", "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"]
        self._process = subprocess.Popen(
            [sys.executable, "-m", "openmps", *command],
            env={**os.environ, "OPENMPS_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # spawning workers on a busy machine takes a while
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        code = self._process.poll()
        self.close()
        raise RuntimeError(f"openmps serve did not answer on port {self.port} (exit code {code})")

    def users(self, n: int, clients: int, prefix: str, plan: str | None = None) -> float:
        """CreateBusinessUser one per request from ``clients`` keep-alive connections: users/s."""
        command = [str(Path(__file__).with_name("http_clients.py")), str(self.port), str(n), str(clients)]
        done = subprocess.run(
            [sys.executable, *command, prefix, *([plan] if plan else [])],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the load clients failed: {done.stderr[-2000:]}")
        rate, self.client_cpu = (float(field) for field in done.stdout.split())
        return rate

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)


def over_http(home: Path, n: int) -> float:
    """CreateBusinessUser one per request through one worker, from one keep-alive connection."""
    server = Server(home, workers=1)
    try:
        return server.users(n, 1, "web1")
    finally:
        server.close()


@dataclass(frozen=True)
class Turn:
    """One turn of ``workers_beside_in_process``: users/s, and CPU seconds a request."""

    alone: float  # in-process, the mean of the blocks before and after
    served: float  # over HTTP, serve --workers 2
    both: float  # two processes, no HTTP
    server_cpu: float  # the server's processes, for each request served
    client_cpu: float  # the load clients', for each request


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its descendants (Linux: /proc)."""
    ticks, parents = 0, {pid}
    stats = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # it ended meanwhile
                continue
            stats.append((int(entry.name), int(fields[1]), int(fields[11]) + int(fields[12])))
    while True:  # descendants: children of the processes found so far
        grown = parents | {p for p, parent, _ in stats if parent in parents}
        if grown == parents:
            break
        parents = grown
    ticks = sum(used for p, _, used in stats if p in parents)
    return ticks / os.sysconf("SC_CLK_TCK")


def workers_beside_in_process(d: Deployment, home: Path, n: int, rounds: int = 5) -> list[Turn]:
    """``rounds`` turns of ``serve --workers 2`` with 4 clients and two processes each submitting
    half (no HTTP), each between two in-process blocks (``Deployment.submit`` in this process): a
    turn's baseline is the mean of the blocks just before and after it, since the rates of a
    shared machine drift within seconds."""
    server = Server(home, workers=2)
    try:
        alone = [in_process(d, n, "BaseMail", prefix="alone0x")]
        turns = []
        for r in range(rounds):
            cpu = process_cpu(server.pid)
            served = server.users(n, 4, f"web2r{r}x", "BaseMail")
            server_cpu = (process_cpu(server.pid) - cpu) / n
            both = in_two_processes(home, n, f"two{r}x")
            alone.append(in_process(d, n, "BaseMail", prefix=f"alone{r + 1}x"))
            baseline = (alone[-2] + alone[-1]) / 2
            turns.append(Turn(baseline, served, both, server_cpu, server.client_cpu / n))
        return turns
    finally:
        server.close()


def _submitter(home: str, prefix: str, n: int, start: Any, done: Any) -> None:
    """One of ``in_two_processes``'s processes: ``n`` CreateBusinessUser with BaseMail."""
    from openmps.app import open_deployment

    d = open_deployment(Path(home))
    admin = d.administrator()
    assert d.submit(user_request(0, f"{prefix}warm", plan="BaseMail"), admin).ok
    start.wait()
    for i in range(n):
        outcome = d.submit(user_request(i, prefix, plan="BaseMail"), admin)
        assert outcome.ok, outcome.to_bytes()
    done.put(time.perf_counter())


def in_two_processes(home: Path, n: int, prefix: str) -> float:
    """Two processes on the store, each a deployment of its own submitting ``n // 2`` users."""
    spawn = multiprocessing.get_context("spawn")
    start, done = spawn.Barrier(3), spawn.Queue()
    workers = [
        spawn.Process(target=_submitter, args=(str(home), f"{prefix}{p}p", n // 2, start, done))
        for p in range(2)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    ended = max(done.get(timeout=600) for _ in workers)
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a submitting process failed (exit code {worker.exitcode})")
    return 2 * (n // 2) / (ended - started)


def in_threads(n: int, threads: int, one: Callable[[int], None]) -> float:
    def work() -> None:
        workers = [
            threading.Thread(target=lambda t=t: [one(i) for i in range(t, n, threads)])
            for t in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    return timed(n, work)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--password-users", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        d = prepare(home)
        rows: list[tuple[str, int, float, str]] = []
        raw = raw_sqlite(home / "openmps.db", args.users)
        rows.append(("raw SQLite, same rows (baseline)", args.users, raw, "1.00"))
        engine = in_process(d, args.users)
        rows.append(("engine in-process, no password", args.users, engine, f"{engine / raw:.2f} of raw"))
        door = typed(d, args.users)
        rows.append(
            (
                "engine, Python door, no password",
                args.users,
                door,
                f"{door / raw:.2f} of raw, {door / engine:.2f}x XML",
            )
        )
        batch = in_batches(d, args.users)
        rows.append(("engine in-process, 100 per request", args.users, batch, f"{batch / raw:.2f} of raw"))
        raw_mail = raw_sqlite(home / "openmps.db", args.users, mailbox=True)
        rows.append(("raw SQLite, same rows with a mailbox (baseline)", args.users, raw_mail, "1.00"))
        plan = in_process(d, args.users, "BaseMail")
        rows.append(("engine in-process, with a plan", args.users, plan, f"{plan / raw_mail:.2f} of raw"))
        door_plan = typed(d, args.users, "BaseMail")
        rows.append(
            (
                "engine, Python door, with a plan",
                args.users,
                door_plan,
                f"{door_plan / raw_mail:.2f} of raw, {door_plan / plan:.2f}x XML",
            )
        )
        raw_mail_batch = raw_sqlite(home / "openmps.db", args.users, mailbox=True, per_transaction=100)
        rows.append(
            ("raw SQLite with a mailbox, 100 per transaction (baseline)", args.users, raw_mail_batch, "1.00")
        )
        plan_batch = in_batches(d, args.users, plan="BaseMail")
        rows.append(
            (
                "engine in-process, with a plan, 100 per request",
                args.users,
                plan_batch,
                f"{plan_batch / raw_mail_batch:.2f} of raw",
            )
        )
        http = over_http(home, args.users // 2)
        rows.append(("engine over HTTP, no password", args.users // 2, http, f"{http / raw:.2f} of raw"))
        turns = workers_beside_in_process(d, home, args.users // 2)
        served = [turn.served / turn.alone for turn in turns]
        both = [turn.both / turn.alone for turn in turns]
        server_ms = statistics.median(turn.server_cpu for turn in turns) * 1000
        client_ms = statistics.median(turn.client_cpu for turn in turns) * 1000
        each = ", ".join(f"{turn.alone:.0f} → {turn.served:.0f}/s" for turn in turns)
        rows.append(
            (
                "engine over HTTP, 2 workers, 4 clients, with a plan",
                args.users // 2 * len(turns),
                statistics.median(turn.served for turn in turns),
                f"{statistics.median(served):.2f} of in-process around it (median; each: {each});"
                f" CPU a request: server {server_ms:.2f} ms, clients {client_ms:.2f} ms",
            )
        )
        each = ", ".join(f"{turn.alone:.0f} → {turn.both:.0f}/s" for turn in turns)
        rows.append(
            (
                "engine in-process, 2 processes (no HTTP), with a plan",
                args.users // 2 * len(turns),
                statistics.median(turn.both for turn in turns),
                f"{statistics.median(both):.2f} of in-process around it (median; each: {each})",
            )
        )
        hasher = PasswordHasher()
        kdf = in_threads(args.password_users, 2, lambda i: hasher.hash(f"Pa55word-{i}!"))
        rows.append(("raw Argon2id hash, 2 threads (baseline)", args.password_users, kdf, "1.00"))
        admin = d.administrator()

        def with_password(i: int) -> None:
            outcome = d.submit(user_request(i, "pw", "Pa55word!x"), admin)
            assert outcome.ok, outcome.to_bytes()

        pw = in_threads(args.password_users, 2, with_password)
        rows.append(
            ("engine with password, 2 threads", args.password_users, pw, f"{pw / kdf:.2f} of Argon2id")
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'ops':>6}  {'ops/s':>9}  ratio")
    for name, n, rate, ratio in rows:
        print(f"{name:<{width}}  {n:>6}  {rate:>9.1f}  {ratio}")


if __name__ == "__main__":
    main()
