"""Fixtures of the directory contract suite: one fresh, empty backend per test, for every backend.

Every backend (the embedded SQL store today, OpenLDAP and Samba AD next) must pass the same
tests.  A backend is a *factory*: an object whose ``open(workdir)`` is a context manager yielding a
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


def create_sql_store(path: Path, *, domain_sid: str = DOMAIN_SID) -> None:
    """A migrated SQLite store at ``path`` with the settings rows the backend needs, and no entries.

    The settings are inserted as ``openmps.app.init_deployment`` does, without its bootstrap.
    """
    engine = make_engine(sqlite_url(path))
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(settings),
                [
                    {"name": "domain", "value": DOMAIN},
                    {"name": "domain_sid", "value": domain_sid},
                    {"name": "next_rid", "value": str(FIRST_RID)},
                ],
            )
    finally:
        engine.dispose()


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
            yield ContractBackend(
                self.name,
                SqlDirectory(lambda: uow.connection, domain_sid=DOMAIN_SID, rollbacks=uow.rollbacks),
                DOMAIN_SID,
            )
        finally:
            try:
                uow.rollback()
            finally:
                engine.dispose()


# name → constructor taking a session-wide scratch directory.  Add "openldap" / "samba" here.
BACKENDS: dict[str, Callable[[Path], BackendFactory]] = {
    "sql": SqlBackendFactory,
}


@pytest.fixture(scope="session", params=sorted(BACKENDS))
def backend_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> BackendFactory:
    """The factory of one backend (the suite runs once per entry of :data:`BACKENDS`)."""
    name: str = request.param
    return BACKENDS[name](tmp_path_factory.mktemp(f"backend-{name}"))


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
