"""Fixtures of the directory contract suite: one fresh, empty backend per test, for every backend.

Every backend (the embedded SQL store today, on SQLite and on PostgreSQL; OpenLDAP and Samba AD
next) must pass the same tests.  A backend is a *factory*: an object whose ``open(workdir)`` is a context manager yielding a
:class:`ContractBackend` — an EMPTY directory (no bootstrap, no naming context) bound to an open unit
of work, undone when the context exits.  Adding a backend is one entry in :data:`BACKENDS`.

The tests see only the :class:`~openmps.directory.interface.Directory` protocol.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import insert

from openmps.db.schema import settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.directory.interface import Directory
from openmps.directory.sql.backend import SqlDirectory
from support import create_database

DOMAIN = "example.com"
DOMAIN_SID = "S-1-5-21-1111111111-2222222222-3333333333"
FIRST_RID = 1100


@dataclass(frozen=True)
class ContractBackend:
    """What a test gets: the directory under test and the domain SID it assigns objectSids from."""

    name: str
    directory: Directory
    domain_sid: str


class BackendFactory(Protocol):
    def open(self, workdir: Path) -> AbstractContextManager[ContractBackend]:
        """A fresh, empty backend bound to an open unit of work; rolled back / cleaned on exit."""
        ...


# --- the embedded SQL backend ---------------------------------------------------------------------


def settings_rows(domain_sid: str = DOMAIN_SID) -> list[dict[str, str]]:
    """The settings rows the backend needs, as ``openmps.app.init_deployment`` writes them."""
    return [
        {"name": "domain", "value": DOMAIN},
        {"name": "domain_sid", "value": domain_sid},
        {"name": "next_rid", "value": str(FIRST_RID)},
    ]


def create_sql_store(path: Path, *, domain_sid: str = DOMAIN_SID) -> None:
    """A migrated SQLite store at ``path`` with the settings rows the backend needs, and no entries.

    The settings are inserted as ``openmps.app.init_deployment`` does, without its bootstrap.
    """
    engine = make_engine(sqlite_url(path))
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(insert(settings), settings_rows(domain_sid))
    finally:
        engine.dispose()


def sql_backend(name: str, uow: SqlUnitOfWork) -> ContractBackend:
    """The embedded backend bound to ``uow``."""
    directory = SqlDirectory(lambda: uow.connection, domain_sid=DOMAIN_SID, rollbacks=uow.rollbacks)
    return ContractBackend(name, directory, DOMAIN_SID)


class SqlBackendFactory:
    """The embedded SQL backend: a store migrated once per session, copied for every test."""

    name = "sql"

    def __init__(self, scratch: Path) -> None:
        self._template = scratch / "template.sqlite"
        create_sql_store(self._template)

    @contextmanager
    def open(self, workdir: Path) -> Iterator[ContractBackend]:
        path = workdir / "directory.sqlite"
        shutil.copyfile(self._template, path)
        engine = make_engine(sqlite_url(path))
        uow = SqlUnitOfWork(engine)
        try:
            yield sql_backend(self.name, uow)
        finally:
            try:
                uow.rollback()
            finally:
                engine.dispose()


# --- the embedded SQL backend on PostgreSQL -----------------------------------------------------------


class PostgresBackendFactory:
    """The same backend on a PostgreSQL server of the session's own: one migrated database, each
    test one transaction rolled back at its end.  PostgreSQL refuses every statement after a failed
    one until the savepoint is rolled back, which SQLite never does: this catches code that reads
    inside a failed operation."""

    name = "sql-postgresql"

    def __init__(self, server: str) -> None:
        self._engine = make_engine(create_database(server, "openmps_contract"))
        migrate(self._engine)
        with self._engine.begin() as conn:
            conn.execute(insert(settings), settings_rows())

    @contextmanager
    def open(self, workdir: Path) -> Iterator[ContractBackend]:
        uow = SqlUnitOfWork(self._engine)
        try:
            yield sql_backend(self.name, uow)
        finally:
            uow.rollback()

    def close(self) -> None:
        self._engine.dispose()


# name → constructor taking the fixture request and a session-wide scratch directory.
# Add "openldap" / "samba" here.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], BackendFactory]] = {
    "sql": lambda request, scratch: SqlBackendFactory(scratch),
    "sql-postgresql": lambda request, scratch: PostgresBackendFactory(
        request.getfixturevalue("postgres_server")
    ),
}


@pytest.fixture(scope="session", params=sorted(BACKENDS))
def backend_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendFactory]:
    """The factory of one backend (the suite runs once per entry of :data:`BACKENDS`)."""
    name: str = request.param
    factory = BACKENDS[name](request, tmp_path_factory.mktemp(f"backend-{name}"))
    yield factory
    close = getattr(factory, "close", None)
    if close is not None:
        close()  # before the server it may be connected to stops


@pytest.fixture
def backend(backend_factory: BackendFactory, tmp_path: Path) -> Iterator[ContractBackend]:
    with backend_factory.open(tmp_path) as opened:
        yield opened


@pytest.fixture
def directory(backend: ContractBackend) -> Directory:
    """A fresh, EMPTY directory bound to an open unit of work, rolled back at teardown."""
    return backend.directory


@pytest.fixture
def domain_sid(backend: ContractBackend) -> str:
    return backend.domain_sid


@pytest.fixture(scope="session")
def sql_store() -> Callable[[Path], str]:
    """For SQL-only tests: creates an empty migrated store at a path and returns its domain SID."""

    def create(path: Path) -> str:
        create_sql_store(path)
        return DOMAIN_SID

    return create
