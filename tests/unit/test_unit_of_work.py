"""SqlUnitOfWork: SQL and compensating steps commit or roll back together, savepoints nest both."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from openmps.db.schema import settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.errors import InvalidArgument, RollbackFailed


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    e = make_engine(sqlite_url(tmp_path / "s.db"))
    migrate(e)
    yield e
    e.dispose()


def names(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return sorted(r.name for r in conn.execute(select(settings.c.name)))


def test_rollback_undoes_sql_and_runs_compensations_in_reverse(engine) -> None:  # type: ignore[no-untyped-def]
    undone: list[str] = []
    uow = SqlUnitOfWork(engine)
    uow.connection.execute(insert(settings), {"name": "a", "value": "1"})
    for step in ("first", "second", "third"):
        uow.on_rollback(lambda step=step: undone.append(step), step)
    uow.rollback()
    assert undone == ["third", "second", "first"]
    assert names(engine) == []


def test_commit_keeps_sql_and_drops_the_journal(engine) -> None:  # type: ignore[no-untyped-def]
    undone: list[str] = []
    uow = SqlUnitOfWork(engine)
    uow.connection.execute(insert(settings), {"name": "a", "value": "1"})
    uow.on_rollback(lambda: undone.append("x"), "x")
    uow.commit()
    assert undone == []
    assert names(engine) == ["a"]


def test_savepoint_undoes_only_its_own_work(engine) -> None:  # type: ignore[no-untyped-def]
    undone: list[str] = []
    uow = SqlUnitOfWork(engine)
    uow.connection.execute(insert(settings), {"name": "outer", "value": "1"})
    uow.on_rollback(lambda: undone.append("outer"), "outer")
    with pytest.raises(InvalidArgument), uow.savepoint():
        uow.connection.execute(insert(settings), {"name": "inner", "value": "1"})
        uow.on_rollback(lambda: undone.append("inner"), "inner")
        raise InvalidArgument("boom")
    assert undone == ["inner"]
    uow.commit()
    assert names(engine) == ["outer"]


def test_a_failing_compensation_is_reported_after_the_others_ran(engine) -> None:  # type: ignore[no-untyped-def]
    undone: list[str] = []

    def broken() -> None:
        raise OSError("ldap server gone")

    uow = SqlUnitOfWork(engine)
    uow.on_rollback(lambda: undone.append("first"), "first")
    uow.on_rollback(broken, "second")
    uow.on_rollback(lambda: undone.append("third"), "third")
    with pytest.raises(RollbackFailed) as caught:
        uow.rollback()
    assert undone == ["third", "first"]
    assert "second: ldap server gone" in caught.value.description


def test_readonly_units_do_not_take_the_write_lock(engine) -> None:  # type: ignore[no-untyped-def]
    writer = SqlUnitOfWork(engine)
    writer.connection.execute(insert(settings), {"name": "w", "value": "1"})
    reader = SqlUnitOfWork(engine, readonly=True)
    assert reader.connection.execute(select(settings)).all() == []  # WAL: sees the last commit
    reader.rollback()
    writer.commit()


def test_before_commit_writes_inside_the_transaction_and_after_end_tells_how_it_ended(engine) -> None:  # type: ignore[no-untyped-def]
    endings: list[str] = []
    uow = SqlUnitOfWork(engine)
    uow.before_commit(lambda: uow.connection.execute(insert(settings), {"name": "mark", "value": "1"}))
    uow.after_end(endings.append)
    uow.commit()
    assert names(engine) == ["mark"]
    rolled = SqlUnitOfWork(engine)
    rolled.before_commit(lambda: rolled.connection.execute(insert(settings), {"name": "never", "value": "1"}))
    rolled.after_end(endings.append)
    rolled.rollback()
    failing = SqlUnitOfWork(engine)
    failing.on_rollback(lambda: (_ for _ in ()).throw(InvalidArgument("the server is gone")), "step")
    failing.after_end(endings.append)
    with pytest.raises(RollbackFailed):
        failing.rollback()
    assert endings == ["committed", "rolled back", "not compensated"]
    assert names(engine) == ["mark"]
