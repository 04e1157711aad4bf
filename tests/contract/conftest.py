"""Fixtures of the directory contract suite: one fresh, empty backend per test, for every backend.

Every backend (the embedded SQL store today, on SQLite and on PostgreSQL; OpenLDAP and Samba AD
next) must pass the same tests.  A backend is a *factory*: an object whose ``open(workdir)`` is a context manager yielding a
:class:`ContractBackend` — an EMPTY directory (no bootstrap, no naming context) bound to an open unit
of work, undone when the context exits.  Adding a backend is one entry in :data:`BACKENDS`.

The tests see only the :class:`~openmps.directory.interface.Directory` protocol.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from ldap3 import MODIFY_DELETE, MODIFY_REPLACE, SUBTREE
from sqlalchemy import insert

from openmps.db.schema import settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.directory.interface import Directory
from openmps.directory.ldap.backend import LdapDirectory
from openmps.directory.ldap.connection import LdapConnection, LdapRefused, LdapSettings
from openmps.directory.ldap.journal import IntentLog
from openmps.directory.ldap.servers import OPENLDAP, SAMBA, Flavour
from openmps.directory.ldap.values import sid_text
from openmps.directory.sql.backend import SqlDirectory
from openmps.directory.sql.claims import SqlClaims
from openmps.types import DN
from support import DirectoryServer, create_database

DOMAIN = "example.com"
DOMAIN_SID = "S-1-5-21-1111111111-2222222222-3333333333"
FIRST_RID = 1100
NC_DN = DN.parse("DC=example,DC=com")


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


# --- the LDAP backend on OpenLDAP ------------------------------------------------------------------


class OpenLdapBackendFactory:
    """The LDAP backend on the session's OpenLDAP server (suffix ``dc=example,dc=com``, the naming
    context the tests add), with the SQL store it claims unique values in (a deployment's own).
    Each test's writes are undone by the journal its unit of work keeps (what a rollback does in
    production), and a test whose undo leaves an entry fails: every test of the suite is also a
    test of the journal.  The suffix is emptied before and after anyway."""

    name = "openldap"
    flavour = OPENLDAP

    def __init__(self, server: DirectoryServer, scratch: Path) -> None:
        self._settings = LdapSettings(server.url, server.bind_dn, server.password)
        self._domain_sid = DOMAIN_SID
        self._rid = itertools.count(FIRST_RID)
        self._template = scratch / "template.sqlite"
        create_sql_store(self._template)

    def _next_rid(self) -> int:
        return next(self._rid)

    @contextmanager
    def open(self, workdir: Path) -> Iterator[ContractBackend]:
        path = workdir / "claims.sqlite"
        shutil.copyfile(self._template, path)
        engine = make_engine(sqlite_url(path))
        uow = SqlUnitOfWork(engine)
        connection = LdapConnection(self._settings)
        intents = IntentLog(workdir, "contract")
        try:
            wipe(connection, NC_DN, self.flavour)
            directory = LdapDirectory(
                connection,
                root=NC_DN,
                domain_sid=self._domain_sid,
                next_rid=self._next_rid,
                on_rollback=uow.on_rollback,
                claims=SqlClaims(lambda: uow.connection),
                intents=intents,
                before_commit=uow.before_commit,
                flavour=self.flavour,
            )
            yield ContractBackend(self.name, directory, self._domain_sid)
        finally:
            try:
                uow.rollback()  # the journal's undo, in reverse
                left = wipe(connection, NC_DN, self.flavour)
                assert not left, f"the journal's undo left {left}"  # the rollback of every test
            finally:
                wipe(connection, NC_DN, self.flavour)
                connection.close()
                engine.dispose()
                intents.end(clean=True)


def wipe(connection: LdapConnection, root: DN, flavour: Flavour = OPENLDAP) -> list[DN]:
    """Delete every entry OpenMPS wrote under (and at) ``root``, deepest first; answers what was
    there.  AD's domain root is not deleted but handed back (its mark and OpenMPS's values removed)."""
    text = flavour.visible("(objectClass=*)")
    try:
        conn = connection.run(str(root), lambda c: c.search(str(root), text, SUBTREE, attributes=["1.1"]))
    except LdapRefused as refused:
        if refused.code == 32:  # noSuchObject: nothing there
            return []
        raise
    found = sorted((DN.parse(e["dn"]) for e in conn.response if e["type"] == "searchResEntry"), key=len)
    for dn in reversed(found):
        if dn == root and flavour.marker is not None:
            handed_back = {  # OpenMPS's values first: AD keeps a class while values of it remain
                "description": [(MODIFY_REPLACE, [])],
                **{name: [(MODIFY_REPLACE, [])] for _ours, name in flavour.stored_as},
                "objectClass": [(MODIFY_DELETE, [flavour.marker])],
            }
            connection.run(dn.ldap_path, lambda c, ops=handed_back: c.modify(str(root), ops))
        else:
            connection.run(dn.ldap_path, lambda c, dn=dn: c.delete(str(dn)))
    return found


# --- the LDAP backend on a Samba AD domain controller ----------------------------------------------


class SambaBackendFactory(OpenLdapBackendFactory):
    """The LDAP backend on the session's Samba AD DC, whose domain is ``example.com``: the naming
    context the tests add is AD's own domain root, which the backend takes over (and the journal's
    undo hands back); AD's own entries beside OpenMPS's stay out of sight.  AD assigns objectGUID
    and objectSid from the DC's domain SID.  As on OpenLDAP, each test's undo must leave nothing."""

    name = "samba"
    flavour = SAMBA

    def __init__(self, server: DirectoryServer, scratch: Path) -> None:
        self._settings = LdapSettings(server.url, server.bind_dn, server.password, verify_tls=False)
        self._template = scratch / "template.sqlite"
        create_sql_store(self._template)
        connection = LdapConnection(self._settings)
        try:  # the domain root, read past the backend (which sees it once it has taken it over)
            conn = connection.run(
                "the domain root",
                lambda c: c.search(str(NC_DN), "(objectClass=*)", "BASE", attributes=["objectSid"]),
            )
            self._domain_sid = sid_text(conn.response[0]["raw_attributes"]["objectSid"][0])
        finally:
            connection.close()

    def _next_rid(self) -> int:
        raise AssertionError("AD assigns objectSid itself")


# name → constructor taking the fixture request and a session-wide scratch directory.
BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], BackendFactory]] = {
    "sql": lambda request, scratch: SqlBackendFactory(scratch),
    "sql-postgresql": lambda request, scratch: PostgresBackendFactory(
        request.getfixturevalue("postgres_server")
    ),
    "openldap": lambda request, scratch: OpenLdapBackendFactory(
        request.getfixturevalue("openldap_server"), scratch
    ),
    "samba": lambda request, scratch: SambaBackendFactory(request.getfixturevalue("samba_dc"), scratch),
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
