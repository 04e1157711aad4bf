"""Random sequences of Resource Manager operations, each in its own unit of work, never break an
invariant, whatever succeeds or fails.

Plans made from a fresh view always fit, so they never reach the ledger's guards; a race (several
plans made from one view, then committed one after the other, as processes racing would) makes all
but the first stale, and only the guarded updates stand between them and an over-booked store."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.errors import MpsError, QuotaExceeded
from openmps.resources.interface import BUSINESS
from openmps.resources.placement import MailboxAlgorithm, OrgAlgorithm, place_mailbox, plan_organization
from openmps.resources.sql import SqlResourceLedger
from support import check_invariants, create_database

ORGS = ("org-a", "org-b", "org-c")
names = itertools.count()

add_store = st.tuples(st.just("add"), st.integers(1, 40), st.booleans())
allocate = st.tuples(
    st.just("allocate"),
    st.sampled_from(ORGS),
    st.integers(-5, 60),
    st.booleans(),
    st.sampled_from(list(OrgAlgorithm)),
)
mailbox = st.tuples(
    st.just("mailbox"),
    st.sampled_from(ORGS),
    st.integers(-10, 30_000),
    st.sampled_from(list(MailboxAlgorithm)),
)
release = st.tuples(st.just("release"), st.integers(0, 40))
deallocate = st.tuples(st.just("deallocate"), st.sampled_from(ORGS))
resize = st.tuples(st.just("resize"), st.integers(0, 10), st.integers(1, 60))
remove = st.tuples(st.just("remove"), st.integers(0, 10))
shrink = st.tuples(st.just("shrink"), st.sampled_from(ORGS), st.integers(0, 10), st.integers(1, 60 * 1024))
grow_mailbox = st.tuples(st.just("grow"), st.integers(0, 40), st.integers(1, 30_000))


def races(
    allocations: st.SearchStrategy[tuple[object, ...]], mailboxes: st.SearchStrategy[tuple[object, ...]]
) -> st.SearchStrategy[tuple[object, ...]]:
    """Two to four plans made from one view: any mix, one organization request made for two or
    three other organizations, or one mailbox request made two or three times for one organization."""
    mixed = st.lists(st.one_of(allocations, mailboxes), min_size=2, max_size=4)
    for_orgs = st.tuples(allocations, st.permutations(ORGS), st.integers(2, 3)).map(
        lambda t: [(t[0][0], org, *t[0][2:]) for org in t[1][: t[2]]]
    )
    repeated = st.tuples(mailboxes, st.integers(2, 3)).map(lambda pair: [pair[0]] * pair[1])
    return st.tuples(st.just("race"), st.one_of(mixed, for_orgs, repeated))


racing = races(allocate, mailbox)
operation = st.one_of(
    add_store, allocate, mailbox, release, deallocate, resize, remove, shrink, grow_mailbox, racing
)


Commit = Callable[[SqlResourceLedger], None]


def plan(view: SqlResourceLedger, op: tuple[object, ...], mailboxes: list[str]) -> Commit:
    """Plan an allocate or mailbox operation from what ``view`` sees; what commits that plan on
    another ledger (MpsError when no plan can be made)."""
    if op[0] == "allocate":
        _, org, mb, shared, algorithm = op
        pieces = plan_organization(
            view.rooms(BUSINESS),
            org=str(org),
            kilobytes=int(mb) * 1024,
            shared=bool(shared),
            algorithm=algorithm,
        )  # type: ignore[arg-type]
        # the ledger's short list of candidates leads to the same placement as every store
        candidates = view.candidates(
            BUSINESS,
            org=str(org),
            shared=bool(shared),
            most_free_first=algorithm is OrgAlgorithm.MIN_STORE_COUNT,
            kilobytes=int(mb) * 1024,
        )
        short = plan_organization(
            candidates, org=str(org), kilobytes=int(mb) * 1024, shared=bool(shared), algorithm=algorithm
        )  # type: ignore[arg-type]
        assert short == pieces
        return lambda ledger: ledger.allocate(str(org), pieces)
    _, org, kb, algorithm = op
    slot = place_mailbox(view.slots(str(org)), kilobytes=int(kb), algorithm=algorithm)  # type: ignore[arg-type]
    guid = f"mbx{next(names)}"

    def commit(ledger: SqlResourceLedger) -> None:
        ledger.place_mailbox(org=str(org), mailbox=guid, store_id=slot.store_id, kilobytes=int(kb))
        mailboxes.append(guid)

    return commit


def perform(ledger: SqlResourceLedger, op: tuple[object, ...], mailboxes: list[str]) -> None:
    kind = op[0]
    stores = ledger.stores(BUSINESS)
    if kind == "add":
        ledger.add_store(
            kind=BUSINESS, server="S", name=f"MS{next(names)}", megabytes=int(op[1]), shared=bool(op[2])
        )
    elif kind in ("allocate", "mailbox"):
        plan(ledger, op, mailboxes)(ledger)  # planned from a fresh view: it fits
    elif kind == "release" and mailboxes:
        ledger.release_mailbox(mailboxes.pop(int(op[1]) % len(mailboxes)))
    elif kind == "shrink":
        slots = ledger.slots(str(op[1]))
        if slots:
            ledger.shrink(str(op[1]), slots[int(op[2]) % len(slots)].store_id, int(op[3]))
    elif kind == "grow" and mailboxes:
        ledger.resize_mailbox(mailboxes[int(op[1]) % len(mailboxes)], int(op[2]))
    elif kind == "deallocate":
        ledger.deallocate_organization(str(op[1]))
    elif kind in ("resize", "remove") and stores:
        store = stores[int(op[1]) % len(stores)]
        if kind == "resize":
            ledger.resize_store(BUSINESS, store.store_name, int(op[2]))
        else:
            ledger.remove_store(BUSINESS, store.store_name)


def in_own_unit_of_work(engine: Engine, work: Commit) -> None:
    """Run ``work`` as one request would: committed, or rolled back on an MpsError."""
    uow = SqlUnitOfWork(engine)
    try:
        work(SqlResourceLedger(lambda: uow.connection))
    except MpsError:
        uow.rollback()
        return
    uow.commit()


def race(engine: Engine, ops: list[tuple[object, ...]], mailboxes: list[str]) -> None:
    """Every plan made from one view, then committed one after the other: all but the first stale."""
    reader = SqlUnitOfWork(engine, readonly=True)
    view = SqlResourceLedger(lambda: reader.connection)
    commits = []
    for op in ops:
        with contextlib.suppress(MpsError):  # no plan fits even now: nothing to commit
            commits.append(plan(view, op, mailboxes))
    reader.rollback()
    for commit in commits:
        in_own_unit_of_work(engine, commit)


def run(engine: Engine, operations: list[tuple[object, ...]]) -> None:
    mailboxes: list[str] = []
    for op in operations:
        if op[0] == "race":
            race(engine, op[1], mailboxes)  # type: ignore[arg-type]
        else:
            in_own_unit_of_work(engine, lambda ledger, op=op: perform(ledger, op, mailboxes))
        check_invariants(engine)


@pytest.fixture(scope="module")
def empty_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store: each example runs on a copy (migrating costs more than most
    examples)."""
    path = tmp_path_factory.mktemp("ledger") / "empty.db"
    engine = make_engine(sqlite_url(path))
    migrate(engine)
    engine.dispose()
    return path


def run_on_copy(empty_ledger: Path, operations: list[tuple[object, ...]]) -> None:
    path = empty_ledger.with_name(f"ledger{next(names)}.db")
    shutil.copyfile(empty_ledger, path)
    engine = make_engine(sqlite_url(path))
    run(engine, operations)
    engine.dispose()


def test_two_organizations_planning_from_one_view_never_share_an_unshared_store(empty_ledger: Path) -> None:
    """Both see the dedicated store empty; the first to commit gets it, the second is refused by
    the guarded update (nothing else stops it: its plan was right when it was made)."""
    path = empty_ledger.with_name(f"ledger{next(names)}.db")
    shutil.copyfile(empty_ledger, path)
    engine = make_engine(sqlite_url(path))

    def unit(readonly: bool = False) -> tuple[SqlUnitOfWork, SqlResourceLedger]:
        uow = SqlUnitOfWork(engine, readonly=readonly)
        return uow, SqlResourceLedger(lambda: uow.connection)

    uow, ledger = unit()
    ledger.add_store(kind=BUSINESS, server="S", name="Dedicated", megabytes=100, shared=False)
    uow.commit()
    reader, view = unit(readonly=True)
    rooms = view.rooms(BUSINESS)
    reader.rollback()
    a, b = (
        plan_organization(
            rooms, org=org, kilobytes=10 * 1024, shared=False, algorithm=OrgAlgorithm.TIGHT_PACK
        )
        for org in ("org-a", "org-b")
    )
    assert a == b  # the same store for both
    uow, ledger = unit()
    ledger.allocate("org-a", a)
    uow.commit()
    uow, ledger = unit()
    with pytest.raises(QuotaExceeded, match="store 'Dedicated' on S cannot take 10 MB more"):
        ledger.allocate("org-b", b)
    uow.rollback()
    uow, ledger = unit()
    # a fresh view offers it to org-b no more; its holder may still grow there
    assert ledger.candidates(BUSINESS, org="org-b", shared=False, most_free_first=True, kilobytes=1) == []
    assert [r.holders for r in ledger.rooms(BUSINESS)] == [frozenset({"org-a"})]
    ledger.allocate("org-a", a)
    uow.commit()
    check_invariants(engine)
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=40))
def test_no_sequence_breaks_an_invariant(empty_ledger: Path, operations: list[tuple[object, ...]]) -> None:
    run_on_copy(empty_ledger, operations)


# Sizes that make plans from one view collide: shared stores of 10-40 MB, unshared ones of 20-80 MB
# (room for two organizations, which only the guard keeps apart); every organization first holds
# 2-10 MB of shared space (mailbox races need it); organizations asking for 5-20 MB more, mailboxes
# of 0.5-8 MB.
some_stores = st.lists(st.integers(10, 40), min_size=2, max_size=4).map(
    lambda sizes: [("add", mb if i % 2 == 0 else 2 * mb, i % 2 == 0) for i, mb in enumerate(sizes)]
)
first_allocations = st.tuples(*(st.integers(2, 10) for _ in ORGS)).map(
    lambda sizes: [
        ("allocate", org, mb, True, OrgAlgorithm.TIGHT_PACK) for org, mb in zip(ORGS, sizes, strict=True)
    ]
)
contending_allocate = st.tuples(
    st.just("allocate"),
    st.sampled_from(ORGS),
    st.integers(5, 20),
    st.booleans(),
    st.sampled_from(list(OrgAlgorithm)),
)
contending_mailbox = st.tuples(
    st.just("mailbox"),
    st.sampled_from(ORGS),
    st.integers(512, 8 * 1024),
    st.sampled_from(list(MailboxAlgorithm)),
)
contended = st.lists(
    st.one_of(contending_allocate, races(contending_allocate, contending_mailbox)), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(some_stores, first_allocations, contended)
def test_stale_plans_never_break_an_invariant(
    empty_ledger: Path,
    stores: list[tuple[object, ...]],
    allocations: list[tuple[object, ...]],
    operations: list[tuple[object, ...]],
) -> None:
    """Stores and allocations first, then mostly races: the guards of ``allocate`` and
    ``place_mailbox`` are met."""
    run_on_copy(empty_ledger, stores + allocations + operations)


@pytest.fixture(scope="module")
def postgres_ledger(postgres_server: str) -> Iterator[Engine]:
    engine = make_engine(create_database(postgres_server, "openmps_ledger"))
    migrate(engine)
    yield engine
    engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=40))
def test_no_sequence_breaks_an_invariant_on_postgresql(
    postgres_ledger: Engine, operations: list[tuple[object, ...]]
) -> None:
    """The same on PostgreSQL, where a guard is a row lock and a failed statement aborts the
    transaction."""
    empty(postgres_ledger)
    run(postgres_ledger, operations)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(some_stores, first_allocations, contended)
def test_stale_plans_never_break_an_invariant_on_postgresql(
    postgres_ledger: Engine,
    stores: list[tuple[object, ...]],
    allocations: list[tuple[object, ...]],
    operations: list[tuple[object, ...]],
) -> None:
    empty(postgres_ledger)
    run(postgres_ledger, stores + allocations + operations)


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE rm_mailboxes, rm_allocations, rm_stores RESTART IDENTITY CASCADE"))
