"""Background WAL checkpoints: commits of write units hand the checkpoint to a thread of its own."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from openmps.db.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from openmps.db.store import SqlUnitOfWork, checkpointer_of, make_engine, sqlite_url


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_written_pages_are_copied_back_by_the_checkpointer(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "store.db"))
    checkpointer = checkpointer_of(engine)
    assert checkpointer is not None
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        # commits no longer checkpoint at SQLite's default 1,000 pages, only at the backstop
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
    for i in range(20):
        uow = SqlUnitOfWork(engine)
        uow.connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "x" * 5000 + str(i)})
        uow.commit()
    assert eventually(lambda: checkpointer.last is not None and checkpointer.last[1] == checkpointer.last[2])
    assert checkpointer.last is not None and checkpointer.last[1] > 20  # the log held every commit
    checkpointer.close()
    assert not checkpointer.running
    engine.dispose()


def test_read_only_units_start_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with make_engine(sqlite_url(path)).begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    engine = make_engine(sqlite_url(path))
    uow = SqlUnitOfWork(engine, readonly=True)
    assert uow.connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    uow.commit()
    checkpointer = checkpointer_of(engine)
    assert checkpointer is not None and not checkpointer.running and checkpointer.checkpoints == 0


def test_an_idle_thread_ends_and_the_next_write_starts_another(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with make_engine(sqlite_url(path)).begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    checkpointer = WalCheckpointer(path, delay=0.01, idle=0.2)
    checkpointer.written()
    assert checkpointer.running
    assert eventually(lambda: checkpointer.checkpoints == 1)
    assert eventually(lambda: not checkpointer.running)
    checkpointer.written()
    assert eventually(lambda: checkpointer.checkpoints == 2)
    checkpointer.close()
    assert not checkpointer.running
    checkpointer.written()  # closed: stays stopped
    assert not checkpointer.running


def test_only_sqlite_files_get_one() -> None:
    assert checkpointer_of(make_engine("sqlite://")) is None


def test_the_thread_ends_with_its_engine(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "store.db"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    del conn
    checkpointer = checkpointer_of(engine)
    assert checkpointer is not None and checkpointer.running
    engine.dispose()
    del engine
    gc.collect()
    assert not checkpointer.running
