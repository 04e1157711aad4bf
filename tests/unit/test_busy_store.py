"""The store's edge: lock conflicts become a re-run or ServiceBusy, by the database's own codes;
the unit of work reads without a lock until a writer starts."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select, update

from openmps.db.busy import translate
from openmps.db.schema import settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url, writer_gate_of
from openmps.engine.context import StoreConflict
from openmps.errors import ServiceBusy


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = make_engine(sqlite_url(tmp_path / "s.db"), busy_timeout=0.3, connections=2)
    migrate(e)
    with e.begin() as conn:
        conn.execute(insert(settings), {"name": "n", "value": "0"})
    yield e
    e.dispose()


@pytest.mark.parametrize(
    ("error", "rerunnable", "expected"),
    [
        (SimpleNamespace(sqlite_errorcode=517), True, StoreConflict),
        (SimpleNamespace(sqlite_errorcode=5), True, StoreConflict),
        (SimpleNamespace(sqlite_errorcode=5), False, ServiceBusy),
        (SimpleNamespace(sqlite_errorcode=19), True, None),  # a constraint: the caller's to map
        (SimpleNamespace(sqlstate="40P01"), True, StoreConflict),
        (SimpleNamespace(sqlstate="40001"), False, ServiceBusy),
        (SimpleNamespace(sqlstate="55P03"), True, ServiceBusy),
        (SimpleNamespace(sqlstate="23505"), True, None),
    ],
)
def test_driver_errors_are_mapped_by_code(error: object, rerunnable: bool, expected: type | None) -> None:
    mapped = translate(error, rerunnable=rerunnable)  # type: ignore[arg-type]
    assert (type(mapped) if mapped is not None else None) is expected


def _value(engine) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return str(conn.execute(select(settings.c.value).where(settings.c.name == "n")).scalar_one())


def test_an_optimistic_unit_reads_beside_a_writer(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        uow = SqlUnitOfWork(engine, optimistic=True)
        assert uow.connection.execute(select(settings.c.value)).all()  # no wait, no error
        assert not uow.holds_write_lock()
        with pytest.raises(StoreConflict):  # its write is refused at once: run it again
            uow.connection.execute(update(settings).values(value="1"))
        uow.rollback()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_writer_waits_bounded_then_is_busy(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        uow = SqlUnitOfWork(engine)
        started = time.monotonic()
        with pytest.raises(ServiceBusy, match="write lock"):
            uow.connection  # noqa: B018  (BEGIN IMMEDIATE)
        assert 0.2 < time.monotonic() - started < 2
        uow.rollback()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_will_write_lets_a_read_snapshot_go_and_takes_the_lock(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    uow = SqlUnitOfWork(engine, optimistic=True)
    assert _value(engine) == "0"
    uow.connection.execute(select(settings.c.value)).all()  # a snapshot, before another commit
    with engine.begin() as conn:
        conn.execute(update(settings).values(value="1"))
    before = uow.rollbacks()
    uow.will_write()
    assert uow.rollbacks() == before + 1  # memos forget what the old snapshot showed
    assert uow.holds_write_lock()
    uow.connection.execute(update(settings).values(value="2"))  # no conflict: a fresh, locked start
    uow.commit()
    assert _value(engine) == "2"


def test_will_write_keeps_what_was_written(engine) -> None:  # type: ignore[no-untyped-def]
    uow = SqlUnitOfWork(engine, optimistic=True)
    uow.connection.execute(update(settings).values(value="5"))  # a write upgraded the snapshot
    uow.will_write()  # must not roll it back
    uow.commit()
    assert _value(engine) == "5"


def test_an_exhausted_pool_is_busy_not_an_internal_error(engine) -> None:  # type: ignore[no-untyped-def]
    held = [SqlUnitOfWork(engine, readonly=True) for _ in range(2)]
    for uow in held:
        uow.connection  # noqa: B018
    try:
        with pytest.raises(ServiceBusy, match="connection"):
            SqlUnitOfWork(engine, readonly=True).connection  # noqa: B018
    finally:
        for uow in held:
            uow.rollback()


def test_writers_of_one_process_queue_at_a_gate_not_in_sqlites_busy_handler(engine) -> None:  # type: ignore[no-untyped-def]
    first = SqlUnitOfWork(engine)
    first.connection.execute(update(settings).values(value="1"))
    began = threading.Event()
    done: list[float] = []

    def second() -> None:
        uow = SqlUnitOfWork(engine)
        began.set()
        uow.connection.execute(update(settings).values(value="2"))
        done.append(time.monotonic())
        uow.commit()

    gate = writer_gate_of(engine)
    assert gate is not None
    thread = threading.Thread(target=second)
    thread.start()
    began.wait()
    deadline = time.monotonic() + 2
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    # queued at the gate, where the first writer's end wakes it, not polling in SQLite's busy handler
    assert gate.waiting == 1
    assert not done
    first.commit()
    thread.join(5)
    assert done
    assert _value(engine) == "2"
    assert gate.waiting == 0


def test_writers_of_two_processes_queue_at_the_files_gate(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # another process's engine on the file (an flock is held by an open file, so a second engine
    # in this process meets it as another process would)
    other = make_engine(sqlite_url(tmp_path / "s.db"), busy_timeout=5)
    holder = SqlUnitOfWork(other)
    holder.connection.execute(update(settings).values(value="1"))
    done: list[bool] = []

    def second() -> None:
        uow = SqlUnitOfWork(engine)
        uow.connection.execute(update(settings).values(value="2"))
        done.append(True)
        uow.commit()

    gate = writer_gate_of(engine)
    assert gate is not None
    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 2
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    # at the gate beside the file, whose release wakes it at once, not in SQLite's busy
    # handler's sleeps of up to 100 ms
    assert gate.waiting == 1
    assert not done
    holder.commit()
    thread.join(5)
    assert done
    assert _value(engine) == "2"
    other.dispose()


def test_the_files_gate_times_out_busy_and_lets_the_process_in_again(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = make_engine(sqlite_url(tmp_path / "s.db"), busy_timeout=5)
    holder = SqlUnitOfWork(other)
    holder.connection  # noqa: B018  (its process's gate, the file's and the write lock)
    with pytest.raises(ServiceBusy, match="write lock"):
        SqlUnitOfWork(engine).connection  # noqa: B018
    holder.rollback()
    writer = SqlUnitOfWork(engine)  # the process's own gate was let go with the refusal
    writer.connection.execute(update(settings).values(value="4"))
    writer.commit()
    assert _value(engine) == "4"
    assert oct((tmp_path / "s.db-writer").stat().st_mode & 0o777) == "0o600"
    other.dispose()


def test_the_gate_times_out_busy_and_is_left_whatever_ends_a_unit(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    holder = SqlUnitOfWork(engine)
    holder.connection  # noqa: B018  (the gate and the write lock)
    with pytest.raises(ServiceBusy, match="write lock"):
        SqlUnitOfWork(engine).connection  # noqa: B018
    holder.rollback()  # a rollback leaves the gate
    blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's writer: SQLite's own lock refuses
    try:
        with pytest.raises(ServiceBusy):
            SqlUnitOfWork(engine).connection  # noqa: B018  (not rolled back by its owner)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    writer = SqlUnitOfWork(engine)  # the refused BEGIN left the gate too
    writer.connection.execute(update(settings).values(value="3"))
    writer.commit()
    assert _value(engine) == "3"
