"""Random sequences of Resource Manager operations, each in its own unit of work, never break an
invariant, whatever succeeds or fails."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.errors import MpsError
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
operation = st.one_of(add_store, allocate, mailbox, release, deallocate, resize, remove, shrink, grow_mailbox)


def apply(engine: Engine, op: tuple[object, ...], mailboxes: list[str]) -> None:
    uow = SqlUnitOfWork(engine)
    ledger = SqlResourceLedger(lambda: uow.connection)
    try:
        kind = op[0]
        stores = ledger.stores(BUSINESS)
        if kind == "add":
            ledger.add_store(
                kind=BUSINESS, server="S", name=f"MS{next(names)}", megabytes=int(op[1]), shared=bool(op[2])
            )
        elif kind == "allocate":
            _, org, mb, shared, algorithm = op
            pieces = plan_organization(
                ledger.rooms(BUSINESS),
                org=str(org),
                kilobytes=int(mb) * 1024,
                shared=bool(shared),
                algorithm=algorithm,
            )  # type: ignore[arg-type]
            # the ledger's short list of candidates leads to the same placement as every store
            candidates = ledger.candidates(
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
            ledger.allocate(str(org), pieces)
        elif kind == "mailbox":
            _, org, kb, algorithm = op
            slot = place_mailbox(ledger.slots(str(org)), kilobytes=int(kb), algorithm=algorithm)  # type: ignore[arg-type]
            guid = f"mbx{next(names)}"
            ledger.place_mailbox(org=str(org), mailbox=guid, store_id=slot.store_id, kilobytes=int(kb))
            mailboxes.append(guid)
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
    except MpsError:
        uow.rollback()
        return
    uow.commit()


def run(engine: Engine, operations: list[tuple[object, ...]]) -> None:
    mailboxes: list[str] = []
    for op in operations:
        apply(engine, op, mailboxes)
        check_invariants(engine)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=40))
def test_no_sequence_breaks_an_invariant(tmp_path: Path, operations: list[tuple[object, ...]]) -> None:
    path = tmp_path / f"ledger{next(names)}.db"
    engine = make_engine(sqlite_url(path))
    migrate(engine)
    run(engine, operations)
    engine.dispose()


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
    with postgres_ledger.begin() as conn:
        conn.execute(text("TRUNCATE rm_mailboxes, rm_allocations, rm_stores RESTART IDENTITY CASCADE"))
    run(postgres_ledger, operations)
