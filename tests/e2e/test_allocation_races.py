"""Processes allocating from the same stores at once never over-book.

All workers plan from the same snapshot, wait for each other at a barrier, then commit their
plans one after the other, so every plan but the first is stale: the worst case.  The guarded
updates must refuse whatever no longer fits; the invariants must hold at the end.  Each race runs on
SQLite (one writer at a time) and on PostgreSQL (row locks, writers at once)."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.errors import InvalidArgument, QuotaExceeded
from openmps.resources.interface import BUSINESS
from openmps.resources.placement import MailboxAlgorithm, OrgAlgorithm, Slot, place_mailbox, plan_organization
from openmps.resources.requests import MAX_MEGABYTES
from openmps.resources.sql import SqlResourceLedger
from support import check_invariants, create_database

WORKERS = 4
ROUNDS = 8
MB = 1024
_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database for one race: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "race.db")
    return create_database(request.getfixturevalue("postgres_server"), f"openmps_race_{next(_databases)}")


def _organizations(url: str, worker: int, barrier: Any) -> tuple[int, int]:
    engine = make_engine(url)
    won = lost = 0
    for i in range(ROUNDS):
        org = f"org-{worker}-{i}"
        reader = SqlUnitOfWork(engine, readonly=True)
        rooms = SqlResourceLedger(lambda reader=reader: reader.connection).rooms(BUSINESS)
        reader.rollback()
        try:
            pieces = plan_organization(
                rooms, org=org, kilobytes=30 * MB, shared=True, algorithm=OrgAlgorithm.TIGHT_PACK
            )
        except QuotaExceeded:
            pieces = []
        barrier.wait()  # everyone has planned from the same view: all but the first are stale
        if not pieces:
            lost += 1
            continue
        writer = SqlUnitOfWork(engine)
        try:
            SqlResourceLedger(lambda writer=writer: writer.connection).allocate(org, pieces)
        except QuotaExceeded:
            writer.rollback()
            lost += 1
            continue
        writer.commit()
        won += 1
    engine.dispose()
    return won, lost


def _mailboxes(url: str, worker: int, barrier: Any) -> tuple[int, int]:
    engine = make_engine(url)
    won = lost = 0
    for i in range(ROUNDS):
        reader = SqlUnitOfWork(engine, readonly=True)
        slots = SqlResourceLedger(lambda reader=reader: reader.connection).slots("shared-org")
        reader.rollback()
        try:
            slot: Slot | None = place_mailbox(slots, kilobytes=10 * MB, algorithm=MailboxAlgorithm.LEVEL)
        except QuotaExceeded:
            slot = None
        barrier.wait()
        if slot is None:
            lost += 1
            continue
        writer = SqlUnitOfWork(engine)
        try:
            SqlResourceLedger(lambda writer=writer: writer.connection).place_mailbox(
                org="shared-org", mailbox=f"mbx-{worker}-{i}", store_id=slot.store_id, kilobytes=10 * MB
            )
        except QuotaExceeded:
            writer.rollback()
            lost += 1
            continue
        writer.commit()
        won += 1
    engine.dispose()
    return won, lost


def _store(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    uow = SqlUnitOfWork(engine)
    ledger = SqlResourceLedger(lambda: uow.connection)
    for name in ("MS1", "MS2"):
        ledger.add_store(kind=BUSINESS, server="EXBE01", name=name, megabytes=100, shared=True)
    uow.commit()
    engine.dispose()


def _race(target: object, where: str, workers: int = WORKERS) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(workers) as pool:
        barrier = manager.Barrier(workers, timeout=60)
        return pool.starmap(target, [(where, w, barrier) for w in range(workers)])  # type: ignore[arg-type]


def _check(url: str) -> None:
    engine = make_engine(url)
    check_invariants(engine)
    engine.dispose()


def test_racing_organizations_never_overbook(url: str) -> None:
    _store(url)
    results = _race(_organizations, url)
    won = sum(w for w, _ in results)
    # 200 MB in two stores, 30 MB per organization: at most 6 fit, and that many do
    assert won == 6, results
    assert sum(w + lost for w, lost in results) == WORKERS * ROUNDS
    _check(url)


def test_racing_mailboxes_never_overbook_their_organization(url: str) -> None:
    _store(url)
    engine = make_engine(url)
    uow = SqlUnitOfWork(engine)
    ledger = SqlResourceLedger(lambda: uow.connection)
    ledger.allocate(
        "shared-org",
        plan_organization(
            ledger.rooms(BUSINESS),
            org="shared-org",
            kilobytes=95 * MB,
            shared=True,
            algorithm=OrgAlgorithm.MIN_STORE_COUNT,
        ),
    )
    uow.commit()
    engine.dispose()
    results = _race(_mailboxes, url)
    # 95 MB on one store, 10 MB mailboxes: 9 fit
    assert sum(w for w, _ in results) == 9, results
    _check(url)


def _users_with_mailboxes(where: str, worker: int, barrier: Any) -> tuple[int, int]:
    from openmps.app import open_deployment
    from support import fast_passwords, he, org_path

    home, domain, url = where.split("|", 2)
    d = addressed(open_deployment(Path(home), url=url, passwords=fast_passwords()), domain)
    barrier.wait()
    won = lost = 0
    for i in range(3):
        outcome = d.submit(
            he(
                "CreateBusinessUser",
                container=org_path("WH", "alpineskihouse"),
                userPrincipalName=f"w{worker}u{i}@alpineskihouse.com",
                isAdmin=False,
                planName="GoldMail",
            )
        )
        if outcome.error is None:
            won += 1
        else:
            assert outcome.error.hex_code == "0x80070070", outcome.error  # QuotaExceeded, nothing else
            lost += 1
    d.sql.dispose()
    return won, lost


@dataclass(frozen=True)
class Hosting:
    """Where the hosting directory is (``choice`` None: in the store) and the domain hosted: the
    session's Samba DC is example.com's, so the tests' requests are sent with its suffix."""

    choice: Any = None
    domain: str = "fabrikam.com"


@pytest.fixture(params=["sql", "openldap", "samba"])
def directory(request: pytest.FixtureRequest) -> Iterator[Hosting]:
    """In the store, on the session's OpenLDAP server for fabrikam.com, or on its Samba AD DC for
    example.com (emptied before and after)."""
    if request.param == "sql":
        yield Hosting()
        return
    from openmps.app import DirectoryServerChoice
    from support import wipe_samba, wipe_server

    if request.param == "samba":
        server = request.getfixturevalue("samba_dc")
        wipe_samba(server, "DC=example,DC=com")
        choice = DirectoryServerChoice(
            server.url, server.bind_dn, server.password_file, ca_file=server.ca_file
        )
        yield Hosting(choice, "example.com")
        wipe_samba(server, "DC=example,DC=com")
        return
    server = request.getfixturevalue("openldap_fabrikam")
    wipe_server(server, "dc=fabrikam,dc=com")
    yield Hosting(DirectoryServerChoice(server.url, server.bind_dn, server.password_file))
    wipe_server(server, "dc=fabrikam,dc=com")


def addressed(d: Any, domain: str) -> Any:
    """``d`` with the tests' requests (written for fabrikam.com) sent to ``domain``."""
    if domain != "fabrikam.com":
        submit = d.submit
        suffix = ",".join(f"DC={label}" for label in domain.split("."))
        d.submit = lambda document, *a, **kw: submit(document.replace("DC=fabrikam,DC=com", suffix), *a, **kw)
    return d


def _deployment(home: Path, url: str, directory: Hosting) -> None:
    """A deployment at ``home`` with alpineskihouse and 50 MB on each of two stores."""
    from openmps.app import init_deployment
    from openmps.types import Secret
    from support import fast_passwords, make_alpineskihouse

    d = init_deployment(
        home,
        domain=directory.domain,
        admin_password=Secret("Adm1nPassw0rd!"),
        passwords=fast_passwords(),
        url=url,
        directory=directory.choice,
    )
    make_alpineskihouse(addressed(d, directory.domain), exchange=True)
    d.close_directory()
    d.sql.dispose()


def test_racing_mailbox_creations_through_the_engine(tmp_path: Path, url: str, directory: Hosting) -> None:
    home = tmp_path / "home"
    _deployment(home, url, directory)
    results = _race(_users_with_mailboxes, f"{home}|{directory.domain}|{url}")
    # 51,200 KB per store and 20,000 KB per GoldMail mailbox: two per store, four in all
    assert sum(w for w, _ in results) == 4, results
    _check(url)


def _resizes(url: str, worker: int, barrier: Any) -> tuple[int, int]:
    """Relative resizes of MS1 (ReallocateBusinessMailstoreResource's): +10 MB, then -30 MB, each
    round begun together; a change is never lost, a shrink never goes below what is allocated."""
    engine = make_engine(url)
    outcomes = []
    for i in range(ROUNDS):
        barrier.wait()
        writer = SqlUnitOfWork(engine)
        change = 10 if i % 2 == 0 else -30
        try:
            SqlResourceLedger(lambda w=writer: w.connection).resize_store_by(
                BUSINESS, "MS1", change, at_most=1 << 30
            )
            writer.commit()
            outcomes.append(True)
        except QuotaExceeded:
            writer.rollback()
            outcomes.append(False)
    engine.dispose()
    return outcomes.count(True), outcomes.count(False)


def test_racing_relative_resizes_lose_nothing_and_never_underbook(url: str) -> None:
    _store(url)
    engine = make_engine(url)
    uow = SqlUnitOfWork(engine)
    ledger = SqlResourceLedger(lambda: uow.connection)
    store = ledger.store(BUSINESS, "MS1")
    ledger.allocate("org", [(store.store_id, 60 * MB)])  # 60 of its 100 MB allocated
    uow.commit()
    results = _race(_resizes, url)
    uow = SqlUnitOfWork(engine, readonly=True)
    capacity = SqlResourceLedger(lambda: uow.connection).store(BUSINESS, "MS1").capacity_kb // MB
    uow.rollback()
    engine.dispose()
    grown = WORKERS * ROUNDS // 2  # every growth fits
    shrunk = sum(w for w, _ in results) - grown
    assert capacity == 100 + 10 * grown - 30 * shrunk, results
    assert capacity >= 60


def _one_name(where: str, worker: int, barrier: Any) -> tuple[str, str]:
    """CreateBusinessUser of one name (each worker its own letter case) with a mailbox: the outcome."""
    from openmps.app import open_deployment
    from support import fast_passwords, he, org_path

    home, domain, url = where.split("|", 2)
    d = addressed(open_deployment(Path(home), url=url, passwords=fast_passwords()), domain)
    upn = "".join(c.upper() if worker >> i & 1 else c for i, c in enumerate("race@alpineskihouse.com"))
    document = he(
        "CreateBusinessUser",
        container=org_path("WH", "alpineskihouse"),
        userPrincipalName=upn,
        sAMAccountName="racer",
        isAdmin=False,
        planName="BaseMail",
    )
    barrier.wait()
    outcome = d.submit(document)
    d.close_directory()
    d.sql.dispose()
    return ("won", upn) if outcome.error is None else (outcome.error.hex_code, outcome.error.description)


def test_racing_creations_of_one_name_through_the_engine(
    tmp_path: Path, url: str, directory: Hosting
) -> None:
    """Eight processes create a user of the same UPN and sAMAccountName (and so the same primary
    SMTP address) at once: one wins, the others are refused, and the directory holds one user of
    that name, with one mailbox booked (on the Samba DC too, which checks no proxy address)."""
    from openmps.app import open_deployment
    from openmps.directory import filters
    from openmps.directory.interface import Scope
    from support import fast_passwords

    home = tmp_path / "home"
    _deployment(home, url, directory)
    results = _race(_one_name, f"{home}|{directory.domain}|{url}", workers=8)
    assert [r[0] for r in results].count("won") == 1, results
    assert all(r[0] in ("won", "0x80071392", "0x8007202F", "0x80072035") for r in results), results
    d = open_deployment(home, url=url, passwords=fast_passwords())
    try:
        for attr, value in (
            ("userPrincipalName", "race@alpineskihouse.com"),
            ("sAMAccountName", "racer"),
            ("proxyAddresses", "SMTP:race@alpineskihouse.com"),
        ):
            holders = d.read(lambda r: r.search(d.layout.domain, Scope.SUBTREE, filters.eq(attr, value)))  # noqa: B023
            assert len(holders) == 1, (attr, [h.dn for h in holders])
    finally:
        d.close_directory()
        d.sql.dispose()
    _check(url)


def test_sizes_past_the_ledgers_range_are_refused_not_overflowed(url: str) -> None:
    """AddExchangeResources and ModifyResources take up to MAX_MEGABYTES, more than a 32-bit
    kilobyte count holds: past it, the ledger refuses with a clear error on both stores (on
    PostgreSQL the INTEGER column overflowed into an internal error) and changes nothing."""
    _store(url)
    engine = make_engine(url)
    uow = SqlUnitOfWork(engine)
    ledger = SqlResourceLedger(lambda: uow.connection)
    most = (2**31 - 1) // MB
    for megabytes in (most + 1, MAX_MEGABYTES):
        with pytest.raises(InvalidArgument, match=f"'MS3' cannot be {megabytes} MB: .* at most {most} MB"):
            ledger.add_store(kind=BUSINESS, server="EXBE01", name="MS3", megabytes=megabytes, shared=True)
        with pytest.raises(InvalidArgument, match=f"'MS1' cannot be {megabytes} MB"):
            ledger.resize_store(BUSINESS, "MS1", megabytes)
    assert ledger.store(BUSINESS, "MS1").capacity_kb == 100 * MB
    assert [s.store_name for s in ledger.stores(BUSINESS)] == ["MS1", "MS2"]
    assert ledger.add_store(kind=BUSINESS, server="EXBE01", name="MS3", megabytes=most, shared=True)
    assert ledger.resize_store(BUSINESS, "MS1", most).capacity_kb == most * MB
    uow.commit()
    engine.dispose()
