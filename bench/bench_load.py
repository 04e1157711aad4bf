"""Mixed load from many clients against a real ``openmps serve``, and the checks that must hold after it.

    ./scripts/bench.sh bench/bench_load.py [--seconds 60] [--clients 32] [--baseline-seconds 15]

A fresh deployment holds two resellers, seven customers with mail storage and BaseMail, and an admin
for each (the customers' admins are customer admins; each reseller's admin is in its ``Admins@``).
A server is started on a free loopback port and, for ``--seconds``, ``--clients`` threads send:

* a customer admin (most clients, several per customer): CreateBusinessUser without a plan, with
  BaseMail (which takes mailbox space until the organization's allocation is full), with a name
  another client of the tenant may be creating at the same moment, or with a long name whose
  sAMAccountName collides with every other such user's; GetBusinessUsers of its organization;
  DeleteBusinessUser of a user it created;
* a reseller admin: CreateBusinessOrganization with mail storage and BaseMail (which takes space on
  the stores until they are full), and GetBusinessUsers of one of its customers.

A 503 with Retry-After is retried after the delay it names (counted as a retry); anything else is
recorded as answered.  Printed: requests/s, p50/p99 per procedure, responses by status and error
code; then the checks (``Report.problems``): no 5xx but a 503 with Retry-After, no request left
unanswered, no two entries with one UPN, sAMAccountName or proxy address, every user whose creation
was answered 200 and not deleted exists once, nothing exists of a refused request, no store or
organization over-allocated, every mailbox's quota equal to its allocation.

Baseline, measured in the same run first: the same mix from one client (``--baseline-seconds``).
The ratio compares the throughput of ``--clients`` clients with it; absolute rates drift with the
machine.  Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from lxml import etree
from sqlalchemy import Engine, func, select

from openmps.app import Deployment, init_deployment, open_deployment
from openmps.db.schema import entries, entry_values, rm_allocations, rm_mailboxes, rm_stores
from openmps.db.store import checkpointer_of
from openmps.delegation.passwords import Passwords
from openmps.directory.interface import Change
from openmps.types import DN, Secret

ADMIN = ("administrator@fabrikam.com", "Adm1nPassw0rd!")
PASSWORD = "Tenant-Passw0rd!"
BASE = "DC=fabrikam,DC=com"
HOSTING = f"OU=Hosting,{BASE}"
HE = "Hosted Exchange"
RM = "Exchange Resource Manager"
XML = {"content-type": "text/xml; charset=utf-8"}
BASEMAIL = "<availablePlans><planName>BaseMail</planName></availablePlans>"
SAM_PREFIX = "longnameloadtestuser"  # 20 characters: every such user's sAMAccountName seed collides


def request(namespace: str, procedure: str, body: str) -> str:
    return (
        f'<request><procedure><execute namespace="{namespace}" procedure="{procedure}">'
        f"<executeData>{body}</executeData>"
        '<after source="executeData" destination="data" mode="merge"/></execute></procedure></request>'
    )


def he(procedure: str, **args: str) -> str:
    return request(HE, procedure, "".join(f"<{k}>{v}</{k}>" for k, v in args.items()))


def ldap(dn: str) -> str:
    return f"LDAP://{dn}"


@dataclass(frozen=True)
class Tenant:
    """An organization and the admin who signs in for it (a customer's own, or its reseller's)."""

    reseller: str
    name: str  # the customer organization; for a reseller admin, the organization holding the account
    domain: str
    admin: str

    @property
    def dn(self) -> str:
        return f"OU={self.name},OU={self.reseller},{HOSTING}"


@dataclass(frozen=True)
class Setup:
    home: Path
    customers: list[Tenant]
    resellers: list[Tenant]  # .name: the staff organization the reseller admin's account lives in
    plain_user: str  # a user of customers[0] with no admin role


def cheap_passwords() -> Passwords:
    """The tenants' admins get Argon2id hashes of minimal cost: their first sign-in over HTTP then
    costs microseconds, not 64 MB each, and the load measures provisioning, not the hash."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def ok(d: Deployment, document: str) -> None:
    outcome = d.submit(document)
    assert outcome.ok, outcome.to_bytes().decode()


def stores_body(stores: int, megabytes: int) -> str:
    return (
        "<mailStores>"
        + "".join(
            f"<mailStore><serverName>EX{i}</serverName><mailStoreName>Load{i}</mailStoreName>"
            f"<megabytes>{megabytes}</megabytes><shared>1</shared></mailStore>"
            for i in range(stores)
        )
        + "</mailStores>"
    )


def prepare(
    home: Path,
    *,
    resellers: int = 2,
    customers: int = 7,
    stores: int = 4,
    store_mb: int = 2500,
    org_mb: int = 500,
) -> Setup:
    """A fresh deployment in ``home``: ``stores`` shared mail stores of ``store_mb``; ``customers``
    organizations spread over ``resellers``, each holding ``org_mb`` of them with BaseMail available
    and an admin; each reseller an admin in ``Admins@<reseller>``.  The store is closed on return."""
    d = init_deployment(
        home, domain="fabrikam.com", admin_password=Secret(ADMIN[1]), passwords=cheap_passwords()
    )
    ok(d, request(RM, "AddExchangeResources", stores_body(stores, store_mb)))
    storage = f"<mailStore><megabytes>{org_mb}</megabytes></mailStore>{BASEMAIL}"
    tenants: list[Tenant] = []
    admins: list[Tenant] = []
    for r in range(resellers):
        ok(d, he("CreateResellerOrganization", container=ldap(HOSTING), name=f"R{r}"))
        staff = Tenant(f"R{r}", f"staff{r}", f"staff{r}.example", f"admin@staff{r}.example")
        admins.append(staff)
    for c in range(customers):
        tenants.append(Tenant(f"R{c % resellers}", f"cust{c}", f"cust{c}.example", f"admin@cust{c}.example"))
    for t in [*admins, *tenants]:
        ok(d, request(HE, "CreateBusinessOrganization", _org_body(t, storage)))
        ok(d, user_request(t, t.admin, admin=t in tenants, password=True))
    with d.transaction() as providers:
        directory = providers.directory
        for r, staff in enumerate(admins):
            holder = directory.holder("userPrincipalName", staff.admin)
            group = DN.parse(f"CN=Admins@R{r},OU=R{r},{HOSTING}")
            directory.modify(group, [Change.add("member", str(holder))])
    plain = f"worker@{tenants[0].domain}"
    ok(d, user_request(tenants[0], plain, admin=False, password=True))
    close(d)
    return Setup(home, tenants, admins, plain)


def close(d: Deployment) -> None:
    """Stop the store's background checkpoints, then its connections: the files are then still,
    for a server to open or a test to copy."""
    checkpointer = checkpointer_of(d.sql)
    if checkpointer is not None:
        checkpointer.close()
    d.sql.dispose()


def _org_body(t: Tenant, storage: str = "") -> str:
    return (
        f"<container>{ldap(f'OU={t.reseller},{HOSTING}')}</container><name>{t.name}</name>"
        f"<SMTPDomain>{t.domain}</SMTPDomain>{storage}"
    )


def user_request(
    t: Tenant, upn: str, *, admin: bool = False, password: bool = False, plan: bool = False
) -> str:
    body = f"<container>{ldap(t.dn)}</container><userPrincipalName>{upn}</userPrincipalName>"
    body += f"<isAdmin>{'true' if admin else 'false'}</isAdmin>"
    if password:
        body += f"<newPassword>{PASSWORD}</newPassword>"
    if plan:
        body += "<planName>BaseMail</planName>"
    return request(HE, "CreateBusinessUser", body)


# --- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


@contextmanager
def serve(home: Path) -> Iterator[Server]:
    """``openmps serve`` on a free loopback port over ``home``, its output in ``home/../server.log``;
    killed on exit even if a request is still running in it."""
    port = free_port()
    log = home.parent / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "openmps", "serve", "--port", str(port)],
            env={**os.environ, "OPENMPS_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield Server(url, log)
    finally:
        server.terminate()
        try:
            server.wait(2)
        except subprocess.TimeoutExpired:  # uvicorn waits for running requests; a stalled one never ends
            server.kill()
            server.wait(5)


# --- the clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as the client saw it: ``status`` None when no answer came (``code``: why)."""

    procedure: str
    status: int | None
    code: str | None
    seconds: float  # the answered attempt
    total: float  # with every retry and its wait
    retries: int
    retry_after: bool  # a 503 carried Retry-After


def error_code(body: bytes) -> str | None:
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return "(not XML)"
    error = root.find("errorContext")
    return None if error is None else error.get("code")


def send(http: httpx.Client, procedure: str, document: str, *, give_up: float, max_retries: int = 30) -> Call:
    """POST ``document``; a 503 with Retry-After is sent again after that delay while the delay ends
    before ``give_up`` (monotonic) and ``max_retries`` allows."""
    started = time.perf_counter()
    retries = 0
    while True:
        attempt = time.perf_counter()
        try:
            response = http.post("/provisioning", content=document.encode(), headers=XML)
        except httpx.HTTPError as exc:
            now = time.perf_counter()
            return Call(procedure, None, type(exc).__name__, now - attempt, now - started, retries, False)
        now = time.perf_counter()
        delay = response.headers.get("retry-after")
        status = response.status_code
        code = None if status == 200 else error_code(response.content)
        retry = status == 503 and delay is not None and delay.isdigit() and retries < max_retries
        if retry and time.monotonic() + int(str(delay)) < give_up:
            retries += 1
            time.sleep(int(str(delay)))
            continue
        return Call(procedure, status, code, now - attempt, now - started, retries, delay is not None)


@dataclass
class Ledger:
    """What the clients were told, for the checks afterwards (one lock: clients are threads)."""

    calls: list[Call] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)  # UPN → creations answered 200
    deleted: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)  # UPNs whose only creations were answered an error
    unknown: set[str] = field(default_factory=set)  # UPNs of creations left unanswered
    orgs: dict[str, int] = field(default_factory=dict)  # organization DN → creations answered 200
    refused_orgs: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


@dataclass
class Mix:
    """One client's loop: a tenant, its own users (deletable), a random source."""

    setup: Setup
    tenant: Tenant
    reseller: bool
    number: int
    ledger: Ledger
    rng: random.Random
    mine: list[str] = field(default_factory=list)
    sequence: int = 0

    def next_name(self) -> str:
        self.sequence += 1
        return f"c{self.number}u{self.sequence}"

    def step(self, http: httpx.Client, give_up: float) -> None:
        if self.reseller:
            choice = self.rng.choices(("org", "list"), (1, 2))[0]
        else:
            choice = self.rng.choices(
                ("user", "plan", "contested", "sam", "list", "delete"), (3, 2, 0.5, 0.5, 3, 2)
            )[0]
        getattr(self, f"_{choice}")(http, give_up)

    def _list(self, http: httpx.Client, give_up: float) -> None:
        target = self.tenant if not self.reseller else self._some_customer()
        self.ledger.record(
            send(http, "GetBusinessUsers", he("GetBusinessUsers", path=ldap(target.dn)), give_up=give_up)
        )

    def _some_customer(self) -> Tenant:
        own = [t for t in self.setup.customers if t.reseller == self.tenant.reseller]
        return self.rng.choice(own)

    def _create(self, http: httpx.Client, give_up: float, upn: str, *, plan: bool, deletable: bool) -> None:
        call = send(http, "CreateBusinessUser", user_request(self.tenant, upn, plan=plan), give_up=give_up)
        ledger = self.ledger
        with ledger.lock:
            ledger.calls.append(call)
            if call.status == 200:
                ledger.created[upn] = ledger.created.get(upn, 0) + 1
                ledger.refused.discard(upn)
            elif call.status is None:
                ledger.unknown.add(upn)
            elif upn not in ledger.created:
                ledger.refused.add(upn)
        if call.status == 200 and deletable:
            self.mine.append(upn)

    def _user(self, http: httpx.Client, give_up: float) -> None:
        self._create(http, give_up, f"{self.next_name()}@{self.tenant.domain}", plan=False, deletable=True)

    def _plan(self, http: httpx.Client, give_up: float) -> None:
        self._create(http, give_up, f"{self.next_name()}m@{self.tenant.domain}", plan=True, deletable=True)

    def _contested(self, http: httpx.Client, give_up: float) -> None:
        # several clients of a tenant race for these names; they are never deleted, so each is
        # created at most once
        upn = f"contested{self.rng.randrange(40)}@{self.tenant.domain}"
        self._create(http, give_up, upn, plan=self.rng.random() < 0.5, deletable=False)

    def _sam(self, http: httpx.Client, give_up: float) -> None:
        upn = f"{SAM_PREFIX}{self.next_name()}@{self.tenant.domain}"
        self._create(http, give_up, upn, plan=False, deletable=True)

    def _delete(self, http: httpx.Client, give_up: float) -> None:
        if not self.mine:
            self._list(http, give_up)
            return
        upn = self.mine.pop(self.rng.randrange(len(self.mine)))
        path = ldap(f"CN={upn},{self.tenant.dn}")
        call = send(http, "DeleteBusinessUser", he("DeleteBusinessUser", path=path), give_up=give_up)
        with self.ledger.lock:
            self.ledger.calls.append(call)
            if call.status == 200:
                self.ledger.deleted.add(upn)
            elif call.status is None:
                self.ledger.unknown.add(upn)
            else:
                self.mine.append(upn)  # still there: it may be deleted later

    def _org(self, http: httpx.Client, give_up: float) -> None:
        name = f"new{self.number}x{self.next_name()}"
        org = Tenant(self.tenant.reseller, name, f"{name}.example", "")
        storage = f"<mailStore><megabytes>{self.rng.choice((50, 100, 200))}</megabytes></mailStore>{BASEMAIL}"
        call = send(
            http,
            "CreateBusinessOrganization",
            request(HE, "CreateBusinessOrganization", _org_body(org, storage)),
            give_up=give_up,
        )
        with self.ledger.lock:
            self.ledger.calls.append(call)
            if call.status == 200:
                self.ledger.orgs[org.dn.casefold()] = self.ledger.orgs.get(org.dn.casefold(), 0) + 1
            elif call.status is not None:
                self.ledger.refused_orgs.add(org.dn.casefold())


def run_clients(
    setup: Setup,
    server: Server,
    *,
    clients: int,
    seconds: float,
    timeout: float,
    ledger: Ledger,
    seed: int = 0,
) -> float:
    """``clients`` threads for ``seconds``: one reseller admin client per eight, the rest customer
    admins spread over the customers.  Answers the elapsed time, until the last client returned."""
    resellers = max(1, clients // 8) if clients > 1 else 0
    mixes = []
    for n in range(clients):
        if n < resellers:
            tenant, reseller = setup.resellers[n % len(setup.resellers)], True
        else:
            tenant, reseller = setup.customers[(n - resellers) % len(setup.customers)], False
        mixes.append(Mix(setup, tenant, reseller, n + seed, ledger, random.Random(seed * 1000 + n)))
    started = time.monotonic()
    deadline = started + seconds

    def loop(mix: Mix) -> None:
        limits = httpx.Limits(max_connections=1)
        with httpx.Client(
            base_url=server.url, auth=(mix.tenant.admin, PASSWORD), timeout=timeout, limits=limits
        ) as http:
            while time.monotonic() < deadline:
                mix.step(http, give_up=deadline + timeout)

    threads = [threading.Thread(target=loop, args=(m,), name=f"client-{m.number}") for m in mixes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


# --- the checks -----------------------------------------------------------------------------------


def _values(conn: object, name: str) -> list[tuple[int, str]]:
    from sqlalchemy import Connection

    assert isinstance(conn, Connection)
    rows = conn.execute(
        select(entry_values.c.entry_id, entry_values.c.value).where(entry_values.c.name == name)
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def duplicates(sql: Engine) -> list[str]:
    """Values held by two entries: UPNs and sAMAccountNames compared case-insensitively, proxy
    addresses without their prefix (``SMTP:`` and ``smtp:`` name one address)."""
    found = []
    with sql.connect() as conn:
        for name, key in (
            ("userprincipalname", str.casefold),
            ("samaccountname", str.casefold),
            ("proxyaddresses", lambda v: v.partition(":")[2].casefold() if ":" in v else v.casefold()),
        ):
            holders: dict[str, set[int]] = {}
            for entry, value in _values(conn, name):
                holders.setdefault(key(value), set()).add(entry)
            found += [
                f"{name} {v!r} is held by {len(ids)} entries" for v, ids in holders.items() if len(ids) > 1
            ]
    return found


def over_allocation(sql: Engine) -> list[str]:
    """The Resource Manager's books against each other and against the directory: stores within
    capacity and equal to their allocations; allocations within their size and equal to their
    mailboxes, each of an existing organization; each mailbox of an existing user whose quota is
    its size, and each mailbox user with one."""
    found = []
    with sql.connect() as conn:
        guids = {str(g).lower(): int(i) for i, g in conn.execute(select(entries.c.id, entries.c.object_guid))}
        for store in conn.execute(select(rm_stores)):
            held, holders = conn.execute(
                select(func.coalesce(func.sum(rm_allocations.c.allocated_kb), 0), func.count()).where(
                    rm_allocations.c.store_id == store.id
                )
            ).one()
            if not held == store.allocated_kb <= store.capacity_kb:
                found.append(
                    f"store {store.store_name}: {store.allocated_kb} KB booked of {store.capacity_kb}, "
                    f"allocations sum to {held}"
                )
            if not store.shared and holders > 1:
                found.append(f"unshared store {store.store_name} holds {holders} organizations")
        for alloc in conn.execute(select(rm_allocations)):
            used = conn.execute(
                select(func.coalesce(func.sum(rm_mailboxes.c.size_kb), 0)).where(
                    rm_mailboxes.c.org_guid == alloc.org_guid, rm_mailboxes.c.store_id == alloc.store_id
                )
            ).scalar()
            if not used == alloc.used_kb <= alloc.allocated_kb:
                found.append(
                    f"allocation {alloc.id}: {alloc.used_kb} KB used of {alloc.allocated_kb}, "
                    f"mailboxes sum to {used}"
                )
            if alloc.org_guid.lower() not in guids:
                found.append(f"allocation {alloc.id} belongs to no organization ({alloc.org_guid})")
        quotas = {entry: int(v) for entry, v in _values(conn, "mdbstoragequota")}
        with_mailbox = {entry for entry, _ in _values(conn, "msexchmailboxguid")}
        placed = set()
        for box in conn.execute(select(rm_mailboxes)):
            entry = guids.get(box.mailbox_guid.lower())
            if entry is None or entry not in with_mailbox:
                found.append(f"mailbox {box.mailbox_guid} ({box.size_kb} KB) belongs to no mailbox user")
                continue
            placed.add(entry)
            if quotas.get(entry) != box.size_kb:
                found.append(
                    f"mailbox {box.mailbox_guid}: quota {quotas.get(entry)} KB, allocation {box.size_kb} KB"
                )
        found += [f"entry {e} has a mailbox and no allocation" for e in sorted(with_mailbox - placed)]
    return found


def lost_or_extra(sql: Engine, ledger: Ledger) -> list[str]:
    """What the clients were told against what is there: a user answered 200 and not deleted exists
    once; a deleted one, or one whose every creation was refused, does not exist; no name was
    answered 200 twice (a name is never created again after its deletion here); likewise for
    organizations."""
    with sql.connect() as conn:
        upns = Counter(v.casefold() for _, v in _values(conn, "userprincipalname"))
        dns = {str(d).casefold() for (d,) in conn.execute(select(entries.c.dn))}
    found = [f"{upn} was created {n} times" for upn, n in ledger.created.items() if n > 1]
    for upn in ledger.created.keys() - ledger.deleted - ledger.unknown:
        if upns[upn.casefold()] != 1:
            found.append(f"{upn} was created (200) but exists {upns[upn.casefold()]} times")
    for upn in (ledger.deleted | ledger.refused) - ledger.unknown:
        if (upn in ledger.deleted or upn not in ledger.created) and upns[upn.casefold()]:
            found.append(f"{upn} exists although it was {'deleted' if upn in ledger.deleted else 'refused'}")
    for dn, n in ledger.orgs.items():
        if n > 1 or dn not in dns:
            found.append(f"organization {dn} created {n} times, {'present' if dn in dns else 'missing'}")
    found += [f"organization {dn} exists although it was refused" for dn in ledger.refused_orgs if dn in dns]
    return found


# --- the report -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


@dataclass
class Report:
    clients: int
    seconds: float
    calls: list[Call]
    problems: list[str]
    server_errors: list[str]  # lines of the server's log naming an exception

    @property
    def rate(self) -> float:
        return len(self.calls) / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        retries = sum(c.retries for c in self.calls)
        out = [
            f"{self.clients} clients, {self.seconds:.1f} s: {len(self.calls)} requests, "
            f"{self.rate:.1f} requests/s, {retries} retries after 503"
        ]
        by_procedure: dict[str, list[Call]] = {}
        for c in self.calls:
            by_procedure.setdefault(c.procedure, []).append(c)
        out.append(
            f"  {'procedure':<28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99 with retries':>17}  answers"
        )
        for name, calls in sorted(by_procedure.items()):
            answers = Counter(f"{c.status or 'none'}{' ' + c.code if c.code else ''}" for c in calls)
            times = [c.seconds * 1000 for c in calls]
            total = [c.total * 1000 for c in calls]
            summary = ", ".join(f"{k} ×{n}" for k, n in answers.most_common())
            p50, p99, p99_total = percentile(times, 0.5), percentile(times, 0.99), percentile(total, 0.99)
            out.append(f"  {name:<28} {len(calls):>6} {p50:>8.0f} {p99:>8.0f} {p99_total:>17.0f}  {summary}")
        return out


def server_errors(log: Path) -> list[str]:
    """The lines of the server's output that name an exception (its tracebacks' last lines)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if "Error:" in line or "Exception:" in line]


def unexpected(calls: list[Call]) -> list[Call]:
    """5xx other than a 503 with Retry-After, and requests that got no answer."""
    return [
        c for c in calls if c.status is None or (c.status >= 500 and not (c.status == 503 and c.retry_after))
    ]


def check(home: Path, ledger: Ledger) -> list[str]:
    """Every problem, from the answers and from the store (the server stopped)."""
    kinds = Counter(
        f"{c.procedure} {c.status or 'no answer'} {c.code or ''}".strip() for c in unexpected(ledger.calls)
    )
    d = open_deployment(home)
    try:
        return [
            *(f"{n} × {k}" for k, n in kinds.most_common()),
            *duplicates(d.sql),
            *over_allocation(d.sql),
            *lost_or_extra(d.sql, ledger),
        ]
    finally:
        close(d)


def run(
    home: Path, *, clients: int, seconds: float, baseline_seconds: float, timeout: float
) -> tuple[Report | None, Report]:
    """Prepare ``home``, serve it, run the baseline (one client) then the load, stop, check."""
    setup = prepare(home)
    ledger = Ledger()  # one for both runs: the checks look at the store both left
    with serve(home) as server:
        base_time = 0.0
        if baseline_seconds:
            base_time = run_clients(
                setup, server, clients=1, seconds=baseline_seconds, timeout=timeout, ledger=ledger, seed=1000
            )
        first = len(ledger.calls)
        load_time = run_clients(
            setup, server, clients=clients, seconds=seconds, timeout=timeout, ledger=ledger
        )
    load = Report(clients, load_time, ledger.calls[first:], check(home, ledger), server_errors(server.log))
    baseline = Report(1, base_time, ledger.calls[:first], [], []) if baseline_seconds else None
    return baseline, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="one client first; 0: none")
    parser.add_argument("--timeout", type=float, default=60.0, help="how long a client waits for an answer")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        baseline, load = run(
            Path(tmp) / "home",
            clients=args.clients,
            seconds=args.seconds,
            baseline_seconds=args.baseline_seconds,
            timeout=args.timeout,
        )
    if baseline is not None:
        print("baseline: the same mix from one client")
        print("\n".join(baseline.lines()))
    print("load")
    print("\n".join(load.lines()))
    if baseline is not None and baseline.rate:
        print(f"ratio: {load.rate / baseline.rate:.2f} of one client's requests/s")
    if load.server_errors:
        print(f"server log: {len(load.server_errors)} exception lines, e.g.")
        for line, n in Counter(load.server_errors).most_common(5):
            print(f"  {n} × {line[:200]}")
    print(f"checks: {'all held' if not load.problems else f'{len(load.problems)} problems'}")
    for problem in load.problems[:40]:
        print(f"  {problem}")
    return 1 if load.problems else 0


if __name__ == "__main__":
    sys.exit(main())
