"""The SQL store: engine factory, migrations, and the unit of work that makes a request atomic.

SQLite is the embedded default.  Write requests take the database's write lock up front
(``BEGIN IMMEDIATE``) so two processes can never interleave read-check-write sequences (the
Resource Manager relies on it); WAL lets readers go on meanwhile.  PostgreSQL works through the
same code with its own row locks.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.pool import StaticPool

from openmps.db.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from openmps.db.schema import settings
from openmps.errors import RollbackFailed

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """An engine with the pragmas OpenMPS needs on SQLite (WAL, foreign keys, a busy timeout)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    checkpointer = None if memory else WalCheckpointer(Path(url.removeprefix("sqlite:///")))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        # every unit of work ends in an explicit commit or rollback: no reset round trip needed
        pool_reset_on_return=None,
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see db/checkpoint.py
        cur.execute("PRAGMA synchronous=NORMAL")
        # Keep the hot index pages in memory: every add touches four B-trees, and with the default
        # 2 MB cache a growing store pays a read system call per page.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front; read-only units (authentication) don't block them.
        readonly = conn.get_execution_options().get("openmps_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    if checkpointer is not None:
        _checkpointers[engine] = checkpointer
        weakref.finalize(engine, checkpointer.close)

        @event.listens_for(engine, "commit")
        def _on_commit(conn: Connection) -> None:
            if not conn.get_execution_options().get("openmps_readonly", False):
                checkpointer.written()

    return engine


_checkpointers: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


def checkpointer_of(engine: Engine) -> WalCheckpointer | None:
    """The background checkpointer of an engine on an SQLite file (None for others)."""
    return _checkpointers.get(engine)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def read_settings(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.name: row.value for row in conn.execute(select(settings))}


class SqlUnitOfWork:
    """One request's transaction: SQL work plus a journal of compensating steps.

    SQL changes commit or roll back as one.  Work outside SQL (an LDAP backend) registers the
    inverse of each change with :meth:`on_rollback`; on failure those run in reverse order after
    the SQL rollback, MPF's compensating model.  :meth:`savepoint` nests both, for ``<try>``.
    The connection is opened lazily, so CPU-only work before the first store access (password
    hashing) does not hold the write lock.
    """

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self._engine = engine
        self._readonly = readonly
        self._conn: Connection | None = None
        self._journal: list[tuple[str, Callable[[], None]]] = []
        self._rollbacks = 0

    def rollbacks(self) -> int:
        """How many times part or all of this unit of work was rolled back (``db/memo.py`` needs it)."""
        return self._rollbacks

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect()
            if self._readonly:
                conn = conn.execution_options(openmps_readonly=True)
            conn.begin()
            self._conn = conn
        return self._conn

    def on_rollback(self, undo: Callable[[], None], label: str) -> None:
        self._journal.append((label, undo))

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = len(self._journal)
        nested = self.connection.begin_nested()
        try:
            yield
        except BaseException:
            self._rollbacks += 1
            nested.rollback()
            self._compensate(mark)
            raise
        else:
            nested.commit()

    def commit(self) -> None:
        if self._conn is not None:
            self._conn.commit()
        self._journal.clear()
        self._close()

    def rollback(self) -> None:
        self._rollbacks += 1
        try:
            if self._conn is not None:
                self._conn.rollback()
            self._compensate(0)
        finally:
            self._close()

    def _compensate(self, mark: int) -> None:
        failures: list[str] = []
        while len(self._journal) > mark:
            label, undo = self._journal.pop()
            try:
                undo()
            except Exception as exc:  # keep undoing the rest, then report all
                failures.append(f"{label}: {exc}")
        if failures:
            raise RollbackFailed("compensating steps failed: " + "; ".join(failures), failures=failures)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
