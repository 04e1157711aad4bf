"""MPF's execute-as assignments in the SQL store (``db/execute_as.py``), on SQLite and on
PostgreSQL: every request running a step as a service reads them all (a prepared statement), in
namespace and procedure order, as the last committed assignment left them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openmps.db.execute_as import SqlExecuteAs
from openmps.db.store import SqlUnitOfWork
from support import migrated_store


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    made = migrated_store(request, tmp_path, f"execute_as_{uuid.uuid4().hex[:8]}")
    yield made
    made.dispose()


def test_assignments_are_read_in_order_as_last_committed(engine: Engine) -> None:
    uow = SqlUnitOfWork(engine)
    store = SqlExecuteAs(lambda: uow.connection)
    assert store.assignments() == []
    store.assign("Managed Active Directory", "CreateUser", "svc_ad")
    store.assign("Hosted Exchange", "CreateMailbox", "svc_mail")
    store.assign("Hosted Exchange", "CreateBusinessUser", "svc_old")
    store.assign("Hosted Exchange", "CreateBusinessUser", "svc_user")  # replaces the one before
    uow.commit()
    uow = SqlUnitOfWork(engine)
    store = SqlExecuteAs(lambda: uow.connection)
    assert store.assignments() == [
        ("Hosted Exchange", "CreateBusinessUser", "svc_user"),
        ("Hosted Exchange", "CreateMailbox", "svc_mail"),
        ("Managed Active Directory", "CreateUser", "svc_ad"),
    ]
    store.assign("Hosted Exchange", "CreateMailbox", None)  # removed
    uow.rollback()
    uow = SqlUnitOfWork(engine)
    assert len(SqlExecuteAs(lambda: uow.connection).assignments()) == 3  # the removal rolled back
    uow.rollback()
