"""Locking, isolation and load: reads never take the write lock, a write refused to a stale snapshot
is run again (and no <try> or procedure can swallow that), a busy store is a 503 with Retry-After
whose audit record is kept, and one tenant over its limit does not keep another out.  On PostgreSQL
with a directory server a failed <try>'s LDAP writes are undone under the writers' lock, which the
request keeps after it, and a lock not given within lock_timeout is a busy store."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import pytest
from lxml import etree
from sqlalchemy import text

from openmps.app import (
    Capacity,
    Deployment,
    DirectoryServerChoice,
    init_deployment,
    open_deployment,
    registry,
)
from openmps.db.store import DIRECTORY_GATE, DIRECTORY_WRITERS
from openmps.delegation.session import Providers
from openmps.directory.interface import Change
from openmps.directory.ldap import backend as ldap_backend
from openmps.engine.admission import Admission, AdmissionLimits
from openmps.engine.context import Caller, ProcedureContext
from openmps.engine.declaration import Registry, Role, Xml, procedure
from openmps.engine.engine import Engine, Outcome
from openmps.errors import InvalidArgument, ServiceBusy
from openmps.types import DN, Secret
from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    AsgiClient,
    World,
    build_world,
    create_database,
    fast_passwords,
    he,
    org_path,
    request_xml,
    wipe_server,
)

Ctx = ProcedureContext[Providers]
ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
COUNTER = DN.from_path(ALPINE).child("CN", "counter")
WAIT = 10.0  # a test's own bound on waiting for another thread; never reached when it passes


class Gates:
    """What the test procedures below wait for and tell, reset for each test."""

    def __init__(self) -> None:
        self.reading = threading.Event()  # a held procedure has read the store
        self.release = threading.Event()  # it may go on
        self.runs = 0  # how many times the held procedure ran (a re-run counts again)
        self.probe: Callable[[], None] = lambda: None  # what ProbeLocks runs


GATES = Gates()


@procedure("Test", "HoldRead", requires=Role.AUTHENTICATED, kind="read")
class HoldRead:
    """Read the store, then wait for the test: a long read-only request, held open."""

    def run(self, ctx: Ctx) -> None:
        ctx.providers.directory.get(COUNTER)
        GATES.reading.set()
        assert GATES.release.wait(WAIT)
        return None


@procedure("Test", "Increment", requires=Role.AUTHENTICATED)
class Increment:
    """Read-check-write: read the counter, (held: wait for the test,) write it plus one.

    ``swallow``: the write is wrapped in ``except Exception``, as careless procedure code might be.
    """

    held: Annotated[bool, Xml("held")] = False
    swallow: Annotated[bool, Xml("swallow")] = False

    def run(self, ctx: Ctx) -> None:
        directory = ctx.providers.directory
        value = int(directory.get(COUNTER).first("description") or "0")
        if self.held:
            GATES.runs += 1
            GATES.reading.set()
            assert GATES.release.wait(WAIT)
        try:
            directory.modify(COUNTER, [Change.replace("description", str(value + 1))])
        except Exception:
            if not self.swallow:
                raise
        return None


@procedure("Test", "FailAfterWrite", requires=Role.AUTHENTICATED)
class FailAfterWrite:
    """Write the counter, then fail: a <try> around it has the write undone."""

    def run(self, ctx: Ctx) -> None:
        ctx.providers.directory.modify(COUNTER, [Change.replace("description", "99")])
        raise InvalidArgument("failing after a write (a test)")


@procedure("Test", "ProbeLocks", requires=Role.AUTHENTICATED, kind="read")
class ProbeLocks:
    """Run the test's probe: a read-only step, which takes no lock of its own."""

    def run(self, ctx: Ctx) -> None:
        GATES.probe()
        return None


@procedure("Test", "Busy", requires=Role.AUTHENTICATED, kind="read")
class Busy:
    """What a procedure meets when the store cannot give it a lock or a connection in time."""

    def run(self, ctx: Ctx) -> None:
        raise ServiceBusy("the store is busy (a test)")


@pytest.fixture
def gates() -> Iterator[Gates]:
    global GATES
    GATES = Gates()
    yield GATES
    GATES.release.set()  # never leave a thread waiting


def toy_engine(d: Deployment, admission: Admission | None = None) -> Engine:
    toys = Registry([*(s.cls for s in registry()), HoldRead, Increment, FailAfterWrite, ProbeLocks, Busy])
    return Engine(toys, open_uow=d.open_uow, open_session=d.open_session, audit=d.audit, admission=admission)


@pytest.fixture
def counted(world: World) -> World:
    return with_counter(world)


def with_counter(world: World) -> World:
    with world.deployment.transaction() as providers:
        providers.directory.add(COUNTER, {"objectClass": ["top", "contact"], "cn": ["counter"]})
    return world


def counter(d: Deployment) -> int:
    return int(d.read(lambda directory: directory.get(COUNTER)).first("description") or "0")


def caller(world: World, persona: str) -> Caller:
    found = world.callers[persona]
    assert found is not None
    return found


def in_thread(pool: ThreadPoolExecutor, engine: Engine, document: str, who: Caller) -> Future[Outcome]:
    return pool.submit(engine.submit, document, who)


def test_a_long_read_does_not_hold_up_another_tenants_write(counted: World, gates: Gates) -> None:
    d = counted.deployment
    engine = toy_engine(d)
    with ThreadPoolExecutor(2) as pool:
        reading = in_thread(pool, engine, request_xml("Test", "HoldRead"), caller(counted, "user"))
        assert gates.reading.wait(WAIT)
        started = time.monotonic()
        document = he(
            "CreateBusinessUser", container=CONTOSO, userPrincipalName="new@contoso.com", isAdmin=False
        )
        writing = in_thread(pool, engine, document, caller(counted, "other_customer_admin"))
        outcome = writing.result(timeout=WAIT)
        elapsed = time.monotonic() - started
        assert not reading.done()  # the read was still open all along
        gates.release.set()
        assert reading.result(timeout=WAIT).ok
    assert outcome.ok, outcome.to_bytes()
    assert elapsed < 2.0, f"another tenant's write waited {elapsed:.1f} s behind a read"


def test_a_long_foreach_of_reads_does_not_hold_up_a_write(counted: World) -> None:
    """The issue's shape: thousands of GetPlans steps in one request, a write beside them."""
    d = counted.deployment
    items = "".join("<i/>" for _ in range(1500))
    reads = (
        f"<request><data>{items}</data><procedure>"
        '<execute namespace="Hosted Exchange" procedure="GetPlans"><forEach name="i" root="data" path="i"/>'
        "<executeData/></execute></procedure></request>"
    )
    with ThreadPoolExecutor(2) as pool:
        reading = pool.submit(d.submit, reads, caller(counted, "user"))
        time.sleep(0.3)  # well into its steps
        started = time.monotonic()
        document = he(
            "CreateBusinessUser", container=CONTOSO, userPrincipalName="w@contoso.com", isAdmin=False
        )
        outcome = pool.submit(d.submit, document, caller(counted, "other_customer_admin")).result(WAIT * 6)
        elapsed = time.monotonic() - started
        still_reading = not reading.done()
        assert reading.result(timeout=WAIT * 6).ok
    assert outcome.ok, outcome.to_bytes()
    assert still_reading, "the read finished too soon to prove anything: give it more steps"
    assert elapsed < 2.0, f"a write waited {elapsed:.1f} s behind a read-only request"


def on_directory_server(d: Deployment) -> bool:
    """Whether the hosting directory is on an LDAP server: its reads see no SQL snapshot, so a
    writing step waits for the write lock before it reads, where on SQL a stale write runs again."""
    return d.directory_server is not None


@pytest.mark.parametrize("shape", ["try", "swallow"])
def test_a_write_refused_to_a_stale_snapshot_runs_again(counted: World, gates: Gates, shape: str) -> None:
    """Held inside <try> (a savepoint keeps its snapshot), the increment reads 0 and waits; another
    tenant's increment commits 1; the held one's write is refused and the request runs again, now
    reading 1: the counter ends at 2.  Had <catch> (or the procedure's own ``except Exception``)
    swallowed the refusal, the request would answer success having lost its write (1).
    On a directory server the held request runs again before its increment starts (a savepoint
    cannot take the lock), then holds the lock while it reads: the other waits its turn."""
    _increments_in_try(counted, gates, shape)


def _increments_in_try(counted: World, gates: Gates, shape: str) -> None:
    d = counted.deployment
    engine = toy_engine(d)
    held = (
        "<executeData><held>true</held><swallow>true</swallow></executeData>"
        if shape == "swallow"
        else ("<executeData><held>true</held></executeData>")
    )
    document = (
        '<request><procedure><try><execute namespace="Test" procedure="Increment">'
        f"{held}</execute></try><catch/></procedure></request>"
    )
    with ThreadPoolExecutor(2) as pool:
        first = in_thread(pool, engine, document, caller(counted, "customer_admin"))
        assert gates.reading.wait(WAIT)
        other = in_thread(
            pool, engine, request_xml("Test", "Increment"), caller(counted, "other_customer_admin")
        )
        if on_directory_server(d):
            time.sleep(0.3)
            assert not other.done()  # waiting for the lock the held request took before reading
        else:
            assert other.result(timeout=2.0).ok  # the held request holds no lock
        gates.release.set()
        outcome = first.result(timeout=WAIT)
        assert other.result(timeout=WAIT).ok
    assert outcome.ok, outcome.to_bytes()
    assert outcome.response.find(".//errorContext") is None
    assert gates.runs == (1 if on_directory_server(d) else 2)
    assert counter(d) == 2
    records = [r for r in d.audit.recent() if r.procedures == ("Test::Increment",)]
    assert [r.outcome for r in records] == ["success", "success"]  # one record per request


def test_the_write_lock_is_taken_when_a_writing_step_starts(counted: World, gates: Gates) -> None:
    """Without <try>, a writing procedure takes the lock before its reads: a concurrent increment
    waits its turn instead of forcing a re-run, and the counter still ends at 2."""
    _increments(counted, gates)


def _increments(counted: World, gates: Gates) -> None:
    d = counted.deployment
    engine = toy_engine(d)
    document = request_xml("Test", "Increment", held=True)
    with ThreadPoolExecutor(2) as pool:
        first = in_thread(pool, engine, document, caller(counted, "customer_admin"))
        assert gates.reading.wait(WAIT)
        other = in_thread(
            pool, engine, request_xml("Test", "Increment"), caller(counted, "other_customer_admin")
        )
        time.sleep(0.3)
        assert not other.done()  # waiting for the lock
        gates.release.set()
        assert first.result(timeout=WAIT).ok and other.result(timeout=WAIT).ok
    assert gates.runs == 1
    assert counter(d) == 2
    records = [r for r in d.audit.recent() if r.procedures == ("Test::Increment",)]
    assert [r.outcome for r in records] == ["success", "success"]  # one record per request


@pytest.fixture
def on_postgresql(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """The counted world on the session's PostgreSQL server, its hosting directory on OpenLDAP."""
    server = request.getfixturevalue("openldap_fabrikam")
    wipe_server(server, "dc=fabrikam,dc=com")
    d = init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        url=create_database(request.getfixturevalue("postgres_server"), f"openmps_locking_{tmp_path.name}"),
        directory=DirectoryServerChoice(server.url, server.bind_dn, server.password_file),
    )
    try:
        yield with_counter(build_world(d))
    finally:
        d.close_directory()
        d.sql.dispose()
        wipe_server(server, "dc=fabrikam,dc=com")


@pytest.mark.parametrize("shape", ["try", "swallow", "plain"])
def test_no_lost_update_on_postgresql_with_a_directory_server(
    on_postgresql: World, gates: Gates, shape: str
) -> None:
    """PostgreSQL's row locks do not cover the server's entries: its writers take an advisory lock
    of their own when a writing step starts, so the increments wait their turn there too."""
    if shape == "plain":
        _increments(on_postgresql, gates)
    else:
        _increments_in_try(on_postgresql, gates, shape)


def free_to_others(d: Deployment) -> dict[str, bool]:
    """Whether another connection could take the directory's locks exclusively now (let go at once):
    DIRECTORY_WRITERS, which a writer holds, and DIRECTORY_GATE, which it holds shared."""
    with d.sql.connect() as conn:
        found = {
            name: bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one())
            for name, key in (("writers", DIRECTORY_WRITERS), ("gate", DIRECTORY_GATE))
        }
        conn.rollback()
    return found


def test_a_failed_try_is_undone_under_the_lock_which_the_request_keeps_after_it(
    on_postgresql: World, gates: Gates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ROLLBACK TO SAVEPOINT lets go of the advisory locks taken inside it: the <try>'s LDAP write
    is undone before it, while no other writer can come in, and the locks are held again after it,
    for the rest of the request (its <catch>, a read-only step, takes none of its own)."""
    d = on_postgresql.deployment
    seen: dict[str, dict[str, bool]] = {}
    undo = ldap_backend.apply

    def watched(connection: Any, step: Any) -> None:
        seen["undo"] = free_to_others(d)
        undo(connection, step)

    monkeypatch.setattr(ldap_backend, "apply", watched)
    gates.probe = lambda: seen.__setitem__("catch", free_to_others(d))
    document = (
        '<request><procedure><try><execute namespace="Test" procedure="FailAfterWrite"/></try>'
        '<catch><execute namespace="Test" procedure="ProbeLocks"/></catch>'
        '<execute namespace="Test" procedure="Increment"/></procedure></request>'
    )
    outcome = toy_engine(d).submit(document, caller(on_postgresql, "customer_admin"))
    assert outcome.ok, outcome.to_bytes()
    locked = {"writers": False, "gate": False}
    assert seen == {"undo": locked, "catch": locked}
    assert counter(d) == 1  # the failed write undone, the increment after it kept
    assert free_to_others(d) == {"writers": True, "gate": True}  # let go at the commit


@pytest.mark.parametrize("held", ["writers", "gate"])
def test_a_directory_lock_not_given_within_lock_timeout_is_a_busy_store(
    on_postgresql: World, tmp_path: Path, held: str
) -> None:
    """Another writer holds DIRECTORY_WRITERS (or a backup DIRECTORY_GATE) past the busy timeout:
    the request is answered ServiceBusy, saying which lock, and changes nothing."""
    d = open_deployment(tmp_path / "home", passwords=fast_passwords(), capacity=Capacity(busy_timeout=0.3))
    key = DIRECTORY_WRITERS if held == "writers" else DIRECTORY_GATE
    try:
        with d.sql.connect() as blocker:
            blocker.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            started = time.monotonic()
            outcome = toy_engine(d).submit(
                request_xml("Test", "Increment"), caller(on_postgresql, "customer_admin")
            )
            elapsed = time.monotonic() - started
            blocker.rollback()
    finally:
        d.close_directory()
        d.sql.dispose()
    assert isinstance(outcome.error, ServiceBusy), outcome.to_bytes()
    assert outcome.error.hex_code == "0x800705AA"
    what = "the directory server's writers" if held == "writers" else "the directory gate"
    assert what in outcome.error.description, outcome.error.description
    assert "nothing was changed" in outcome.error.description
    assert elapsed < 5.0
    assert counter(on_postgresql.deployment) == 0


def _basic(upn: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{upn}:{password}".encode()).decode()}


@pytest.fixture
def busy(counted: World, tmp_path: Path) -> Iterator[tuple[Deployment, AsgiClient, sqlite3.Connection]]:
    """The world opened with a 0.3 s busy timeout, and another process holding the write lock."""
    home = tmp_path / "home"
    d = open_deployment(home, passwords=fast_passwords(), capacity=Capacity(busy_timeout=0.3))
    blocker = sqlite3.connect(home / "openmps.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield d, AsgiClient(create_app(d)), blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()


def _post_busy(client: AsgiClient, document: str) -> Any:
    response: Any = client.post(
        "/provisioning", content=document, headers=_basic("boss@alpineskihouse.com", USER_PASSWORD)
    )
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert etree.fromstring(response.content).find("errorContext").get("code") == "0x800705AA"
    return response


def test_a_busy_store_answers_503_with_retry_after_and_keeps_the_audit_record(
    busy: tuple[Deployment, AsgiClient, sqlite3.Connection],
) -> None:
    d, client, blocker = busy
    started = time.monotonic()
    response = _post_busy(
        client,
        he(
            "CreateBusinessUser", container=ALPINE, userPrincipalName="late@alpineskihouse.com", isAdmin=False
        ),
    )
    assert time.monotonic() - started < 2.0
    assert d.audit.pending() == 1  # the lock is still held: the record waits in the backlog
    blocker.execute("ROLLBACK")
    record = next(r for r in d.audit.recent() if r.request_id == response.headers["X-Request-Id"])
    assert (record.outcome, record.error_code) == ("failure", "0x800705AA")
    assert d.audit.pending() == 0


def test_a_busy_store_is_not_caught_by_try(busy: tuple[Deployment, AsgiClient, sqlite3.Connection]) -> None:
    """A <catch> that took the busy store would answer 200 for a request that did nothing."""
    _, client, _ = busy
    user = request_xml(
        "Hosted Exchange",
        "CreateBusinessUser",
        container=ALPINE,
        userPrincipalName="t@alpineskihouse.com",
        isAdmin=False,
    )
    execute = user[user.index("<execute") : user.index("</procedure>")]
    _post_busy(client, f"<request><procedure><try>{execute}</try><catch/></procedure></request>")


@pytest.mark.parametrize(
    "body",
    [
        '<try><execute namespace="Test" procedure="Busy"/></try><catch/>',
        '<execute namespace="Test" procedure="Busy" onError="continue"><forEach name="i" root="data" path="i"/>'
        "</execute>",
    ],
    ids=["try", "onError"],
)
def test_a_busy_store_is_the_whole_requests_answer(world: World, body: str) -> None:
    """Neither <catch> nor onError="continue" takes it: the client is told to send it all again,
    not that it succeeded having done nothing."""
    document = f"<request><data><i/></data><procedure>{body}</procedure></request>"
    outcome = toy_engine(world.deployment).submit(document, caller(world, "user"))
    assert isinstance(outcome.error, ServiceBusy), outcome.to_bytes()


def test_a_tenant_over_its_limit_is_told_to_retry_while_another_is_served(
    counted: World, gates: Gates
) -> None:
    d = counted.deployment
    limits = AdmissionLimits(running=4, per_tenant=1, provider=4, wait=0.0)
    d.engine = toy_engine(d, Admission(limits, d.tenant_of))
    client = AsgiClient(create_app(d))
    with ThreadPoolExecutor(1) as pool:
        holding = in_thread(
            pool, d.engine, request_xml("Test", "HoldRead"), caller(counted, "customer_admin")
        )
        assert gates.reading.wait(WAIT)
        same: Any = client.post(
            "/provisioning",
            content=he("GetPlans"),
            headers=_basic("worker@alpineskihouse.com", USER_PASSWORD),
        )
        other: Any = client.post(
            "/provisioning", content=he("GetPlans"), headers=_basic("boss@contoso.com", USER_PASSWORD)
        )
        gates.release.set()
        assert holding.result(timeout=WAIT).ok
    assert other.status_code == 200, other.text
    assert same.status_code == 503, same.text
    assert same.headers["Retry-After"] == "1"
    assert "your organization's limit" in etree.fromstring(same.content).find("errorContext").get(
        "description"
    )
    after: Any = client.post(
        "/provisioning", content=he("GetPlans"), headers=_basic("worker@alpineskihouse.com", USER_PASSWORD)
    )
    assert after.status_code == 200  # its place is free again


def test_tenants_are_organizations_and_the_provider_is_one_bucket(world: World) -> None:
    d = world.deployment
    tenant = d.tenant_of
    assert tenant(caller(world, "user")) == tenant(caller(world, "customer_admin"))
    assert tenant(caller(world, "customer_admin")) == str(DN.from_path(ALPINE))
    assert tenant(caller(world, "other_customer_admin")) == str(DN.from_path(CONTOSO))
    assert tenant(caller(world, "domain_admin")) == tenant(d.administrator())
    assert tenant(caller(world, "domain_admin")) != tenant(caller(world, "customer_admin"))


EXITING = """
import sqlite3, sys, threading
from pathlib import Path
from openmps.app import Capacity, open_deployment
sys.path.insert(0, sys.argv[2])
from support import fast_passwords, he, org_path

home = Path(sys.argv[1])
d = open_deployment(home, passwords=fast_passwords(), capacity=Capacity(busy_timeout=0.2))
blocker = sqlite3.connect(home / "openmps.db", isolation_level=None, check_same_thread=False)
blocker.execute("BEGIN IMMEDIATE")  # another process's writer, done in a second
threading.Timer(1.0, blocker.execute, ["ROLLBACK"]).start()
document = he("CreateBusinessUser", container=org_path("WH", "alpineskihouse"), userPrincipalName="x@alpineskihouse.com", isAdmin=False)
outcome = d.submit(document)
assert outcome.error is not None and outcome.error.hex_code == "0x800705AA", outcome.to_bytes()
assert d.audit.pending() == 1
print(outcome.request_id)
"""


def test_a_process_that_ends_writes_its_audit_backlog_first(counted: World, tmp_path: Path) -> None:
    """``openmps submit`` answered busy and exits at once: its failure record is still written."""
    tests = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", EXITING, str(tmp_path / "home"), str(tests)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    request_id = done.stdout.strip()
    records = [r for r in counted.deployment.audit.recent() if r.request_id == request_id]
    assert [(r.outcome, r.error_code) for r in records] == [("failure", "0x800705AA")]
