"""The SQL store: engine factory, migrations, and the unit of work that makes a request atomic.

SQLite is the embedded default, in WAL mode: readers run beside the one writer.  A request's unit
of work reads from a snapshot without any lock (``BEGIN``) and takes the write lock only when a
procedure that writes starts (``BEGIN IMMEDIATE``, the snapshot let go while nothing is written
yet), so read-check-write sequences of concurrent requests never interleave and reads never wait.
A write SQLite refuses to a snapshot (another writer came first) is a
:class:`~openmps.engine.context.StoreConflict`: the engine runs the request again, the lock taken
up front.  Lock and pool waits are bounded; past them the request is answered ``ServiceBusy``
(``db/busy.py``).  Units of work outside the engine (tools) take the lock up front as before.
PostgreSQL works through the same code in READ COMMITTED with its own row locks.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from openmps.db.busy import busy, translate
from openmps.db.checkpoint import BACKSTOP_PAGES, WalCheckpointer
from openmps.db.filelock import FileLock
from openmps.db.prepared import atomic, driver
from openmps.db.schema import settings
from openmps.engine.context import StoreConflict
from openmps.errors import InvalidArgument, InvalidOperation, RollbackFailed, ServiceBusy

# How long a statement waits for a lock, and a request for a pooled connection, before the request
# is answered ServiceBusy: well under an HTTP client's patience (30-60 s), long enough to ride out
# a bulk request's commit.
DEFAULT_BUSY_TIMEOUT = 10.0
# PostgreSQL advisory lock key: transactions writing to a directory server hold it shared, a
# backup exclusive while it reads the server (SQLite's write lock does the same there)
DIRECTORY_GATE = 0x4F4D5053  # "OMPS"
# PostgreSQL advisory lock key every writing unit on a directory server holds exclusively, so its
# writers serialize as SQLite's do (the server's entries have no row locks to wait on)
DIRECTORY_WRITERS = 0x4F4D5057  # "OMPW"
_HOLDERS = {
    DIRECTORY_GATE: "the directory gate, which a backup of the directory server holds",
    DIRECTORY_WRITERS: "the directory server's writers' lock, which a request writing to it holds",
}
DEFAULT_CONNECTIONS = 20

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(
    url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, connections: int = DEFAULT_CONNECTIONS
) -> Engine:
    """An engine with the pragmas OpenMPS needs on SQLite (WAL, foreign keys, a busy timeout).

    ``busy_timeout`` (seconds) bounds every wait for a lock and for one of the ``connections``
    pooled; size the pool to the requests let in at once (``engine/admission.py``) plus the
    sign-ins and audit writes beside them, so the pool is never what fails.
    """
    pool = {"pool_size": connections, "max_overflow": 0, "pool_timeout": busy_timeout}
    if not url.startswith("sqlite"):
        # lock_timeout bounds row-lock waits (55P03 → ServiceBusy); reads never wait on PostgreSQL.
        lock_ms = int(busy_timeout * 1000)
        try:
            engine = create_engine(
                url, pool_pre_ping=True, connect_args={"options": f"-c lock_timeout={lock_ms}"}, **pool
            )
        except ModuleNotFoundError as exc:  # the driver is an extra: say which, never the URL
            extra = (
                ": pip install 'openmps[postgresql]' and give a postgresql+psycopg:// URL"
                if url.startswith("postgres")
                else ""
            )
            raise InvalidOperation(f"the database driver '{exc.name}' is not installed{extra}") from None
        except ArgumentError:
            raise InvalidArgument(
                "the database URL is not one SQLAlchemy reads (postgresql+psycopg://…)"
            ) from None
        event.listen(engine, "handle_error", _on_error)
        return engine
    memory = url in ("sqlite://", "sqlite:///:memory:")
    checkpointer = None if memory else WalCheckpointer(Path(url.removeprefix("sqlite:///")))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        # every unit of work ends in an explicit commit or rollback: no reset round trip needed
        pool_reset_on_return=None,
        **({"poolclass": StaticPool} if memory else pool),
    )
    event.listen(engine, "handle_error", _on_error)

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
        # 2 MB cache a growing store pays a read system call per page.  No memory map: when another
        # connection has committed (another process, or another thread's connection), SQLite drops
        # this one's cache at its next transaction, and with a map it unmaps the whole file too
        # and faults every page back in, 0.4 ms more a request than reading them (two processes
        # writing in turn meet this at every request).
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA mmap_size=0")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Units of work say which BEGIN they need (SqlUnitOfWork); any other use of the engine
        # (migrations, tools) writes, and takes the lock up front.
        conn.exec_driver_sql(conn.get_execution_options().get("openmps_begin", "BEGIN IMMEDIATE"))

    if not memory:
        gate = _WriterGate(busy_timeout, Path(url.removeprefix("sqlite:///")))
        _writer_gates[engine] = gate
        weakref.finalize(engine, gate.close)
    if checkpointer is not None:
        _checkpointers[engine] = checkpointer
        weakref.finalize(engine, checkpointer.close)

        @event.listens_for(engine, "commit")
        def _on_commit(conn: Connection) -> None:
            if not conn.get_execution_options().get("openmps_readonly", False):
                checkpointer.written()

    return engine


def _on_error(ctx: ExceptionContext) -> BaseException | None:
    """Lock conflicts and timeouts of statements run through SQLAlchemy (``db/busy.py``)."""
    conn = ctx.connection
    rerunnable = conn is not None and conn.get_execution_options().get("openmps_rerunnable", False)
    return translate(ctx.original_exception, rerunnable=rerunnable)


_checkpointers: weakref.WeakKeyDictionary[Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


class _WriterGate:
    """The SQLite file's write lock as the writers of every process on it queue for it.

    SQLite lets one writer in at a time; the others wait in its busy handler, which polls with
    sleeps of 1, 2, 5, 10 ms growing to 100 ms, so under contention the lock is often free while
    every waiter sleeps (at 32 clients throughput fell to half of one client's; two processes, as
    ``serve --workers 2``, lost a third of the lock's time to it).  Units of work take this gate
    before ``BEGIN IMMEDIATE``: a process's threads queue at a lock, which wakes the next as soon as
    the writer before it ends; then the process takes an exclusive ``flock`` on a file beside the
    database (``<file>-writer``, ``db/filelock.py``), which the kernel hands to the next process
    the moment the writer before it lets go, and lets go of when its process dies.  Writers outside units of
    work (migrations, tools, a failed request's audit record) still meet SQLite's own lock.
    """

    def __init__(self, timeout: float, database: Path) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout
        self._file = FileLock(Path(f"{database}-writer"))  # made at the first write, not by readers
        self.waiting = 0  # writers queued now (approximate: read without a lock)

    def enter(self) -> None:
        deadline = time.monotonic() + self._timeout
        self.waiting += 1
        try:
            if not self._lock.acquire(timeout=self._timeout):
                raise busy("the write lock was not free within the busy timeout")
            if not self._file.acquire(deadline):
                self._lock.release()
                raise busy("the write lock was not free within the busy timeout")
        finally:
            self.waiting -= 1

    def leave(self) -> None:
        self._file.release()
        self._lock.release()

    def close(self) -> None:
        self._file.close()


_writer_gates: weakref.WeakKeyDictionary[Engine, _WriterGate] = weakref.WeakKeyDictionary()


def writer_gate_of(engine: Engine) -> _WriterGate | None:
    """The gate this process's writers queue at on an SQLite file (None for other databases)."""
    return _writer_gates.get(engine)


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


Ending = Literal["committed", "rolled back", "not compensated"]


class SqlUnitOfWork:
    """One request's transaction: SQL work plus a journal of compensating steps.

    SQL changes commit or roll back as one.  Work outside SQL (an LDAP backend) registers the
    inverse of each change with :meth:`on_rollback`; on failure those run in reverse order just
    before the SQL rollback (its locks keep other writers out meanwhile), MPF's compensating
    model.  :meth:`savepoint` nests both, for ``<try>``.
    The connection is opened lazily, so CPU-only work before the first store access (password
    hashing) does not hold a connection or a lock.

    How it begins on SQLite: ``readonly`` (sign-ins) and ``optimistic`` (the engine's first run
    of a request) read from a snapshot (``BEGIN``) and hold no lock; :meth:`will_write` turns an
    optimistic unit into a writer before its first write, and any other unit takes the write lock
    at its first access (``BEGIN IMMEDIATE``).  Only an optimistic unit raises StoreConflict.

    ``directory_server``: the hosting directory is on an LDAP server, whose reads touch no SQL
    and see no snapshot, so :meth:`will_write` takes the write lock at once, before the writing
    procedure reads the server; a unit that cannot take it there is a StoreConflict.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        readonly: bool = False,
        optimistic: bool = False,
        directory_server: bool = False,
    ) -> None:
        self._engine = engine
        self._directory_server = directory_server
        self._readonly = readonly
        self._sqlite = engine.dialect.name == "sqlite"
        # one shared connection (an in-memory database): nobody to conflict with
        optimistic = optimistic and not isinstance(engine.pool, StaticPool)
        self._optimistic = optimistic and not readonly
        # SQLite: take the write lock at the next BEGIN (a writer, or an optimistic unit told so)
        self._immediate = not readonly and not optimistic
        self._conn: Connection | None = None
        self._gate = _writer_gates.get(engine)
        self._in_gate = False  # this unit holds the process's writer gate (SQLite file)
        self._changes = 0  # the driver's total_changes when the transaction began (SQLite)
        self._savepoints = 0
        self._journal: list[tuple[str, Callable[[], None]]] = []
        self._before_commit: list[Callable[[], None]] = []
        self._after_end: list[Callable[[Ending], None]] = []
        self._rollbacks = 0
        self._gate_shared = False  # PostgreSQL: this transaction holds DIRECTORY_GATE shared
        self._writing = False  # PostgreSQL: this transaction holds DIRECTORY_WRITERS

    def rollbacks(self) -> int:
        """How many times part or all of this unit of work was rolled back (``db/memo.py`` needs it)."""
        return self._rollbacks

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            try:
                conn = self._engine.connect()
            except PoolTimeout:
                raise busy("no database connection was free within the pool timeout") from None
            try:
                self._begin(conn)
            except BaseException:
                conn.close()
                self._leave_gate()
                raise
            self._conn = conn
        return self._conn

    def _begin(self, conn: Connection) -> None:
        gate = self._gate
        if self._immediate and gate is not None and not self._in_gate:
            gate.enter()
            self._in_gate = True
        conn.execution_options(
            openmps_begin="BEGIN IMMEDIATE" if self._immediate else "BEGIN",
            openmps_readonly=self._readonly,
            openmps_rerunnable=self._optimistic,
        )
        conn.begin()
        if self._sqlite:
            self._changes = driver(conn).total_changes

    def will_write(self) -> None:
        """A writing procedure is about to run: from here on the unit holds the write lock.

        On SQLite an optimistic unit that has written nothing lets its read snapshot go (nothing
        is lost: it only read) and begins again with ``BEGIN IMMEDIATE``, waiting its turn behind
        the current writer instead of being refused at its first write.  Inside a savepoint, or
        once something is written, it cannot: a refused write there is a StoreConflict.
        On a directory server the lock is taken now, not at the first SQL access (which may come
        after the procedure's reads of the server, or never): a read-check-write of another
        request cannot come in between.  Where it cannot be taken now, nothing would notice the
        entries read changing before the write, so the request runs again as a writer.  On
        PostgreSQL that lock is :data:`DIRECTORY_WRITERS`, taken exclusively.
        """
        if not self._sqlite:
            if self._directory_server and not self._writing:
                self._advisory("pg_advisory_xact_lock", DIRECTORY_WRITERS)
                self._writing = True
            return
        if self._immediate:
            return
        conn = self._conn
        if conn is None:
            self._immediate = True
            if self._directory_server:
                self.connection  # noqa: B018 (BEGIN IMMEDIATE: wait for the lock here)
            return
        if self._savepoints or conn.connection.driver_connection.total_changes != self._changes:  # type: ignore[union-attr]
            if self._directory_server:
                raise StoreConflict("a writing step began where the directory server could change under it")
            return
        self._immediate = True
        self._rollbacks += 1  # what was remembered of the old snapshot may be stale now
        conn.rollback()
        self._begin(conn)

    def holds_write_lock(self) -> bool:
        """Whether a write now joins this transaction without waiting or a conflict: PostgreSQL,
        a unit that began with the lock, or one whose snapshot already became a write."""
        if not self._sqlite or self._immediate:
            return True
        conn = self._conn
        return conn is not None and driver(conn).total_changes != self._changes

    def on_rollback(self, undo: Callable[[], None], label: str) -> None:
        """Journal the inverse of a write outside SQL (a directory server's), before it is sent;
        ``undo`` must send no SQL (a savepoint's runs before its rollback, in a transaction a failed
        statement may have left refusing any).

        From here to the end of the transaction (its compensation included) the unit holds what a
        backup waits for before it reads the directory server: on SQLite the store's write lock,
        on PostgreSQL the directory gate shared (:data:`DIRECTORY_GATE`); so a backup sees each
        request's outside writes whole or not at all."""
        self.will_write()
        if self._sqlite:
            self.connection  # noqa: B018 (BEGIN IMMEDIATE, unless the unit holds the lock already)
        elif not self._gate_shared:
            self._advisory("pg_advisory_xact_lock_shared", DIRECTORY_GATE)
            self._gate_shared = True
        self._journal.append((label, undo))

    def _advisory(self, function: str, key: int) -> None:
        """Wait for a PostgreSQL advisory lock, held to the end of the transaction (or of the
        savepoint it is taken in); not given within ``lock_timeout``, the store is busy, the
        answer saying which lock."""
        conn = self.connection
        try:
            conn.execute(text(f"SELECT {function}(:key)"), {"key": key})
        except ServiceBusy:
            raise busy(f"{_HOLDERS[key]} was not free within lock_timeout") from None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested part of the transaction, undone alone when it raises: a raw savepoint
        (``prepared.atomic``), not SQLAlchemy's ``begin_nested`` (about 150 µs more each, and sync
        and bulk requests take one per object); nothing here nests SQLAlchemy transactions.

        Its outside writes are undone first, as a whole rollback does: on PostgreSQL ROLLBACK TO
        SAVEPOINT lets go of the advisory locks taken inside it, and another writer could come in
        while the block's writes are half undone.  The undo sends no SQL (a failed statement leaves
        the transaction refusing any until the savepoint's rollback)."""
        mark = len(self._journal)
        held = (self._writing, self._gate_shared)
        conn = self.connection
        self._savepoints += 1
        try:
            with atomic(conn, before_rollback=lambda: self._compensate(mark)):
                yield
        except BaseException:
            self._rollbacks += 1
            self._relock(held)
            raise
        finally:
            self._savepoints -= 1

    def _relock(self, held: tuple[bool, bool]) -> None:
        """After a savepoint's rollback on PostgreSQL: the directory locks first taken inside it
        went with it, and are taken again, since the unit goes on as the writer it became (on
        SQLite the write lock stays)."""
        writing, gate_shared = self._writing, self._gate_shared
        self._writing, self._gate_shared = held
        if writing and not self._writing:
            self._advisory("pg_advisory_xact_lock", DIRECTORY_WRITERS)
            self._writing = True
        if gate_shared and not self._gate_shared:
            self._advisory("pg_advisory_xact_lock_shared", DIRECTORY_GATE)
            self._gate_shared = True

    def before_commit(self, work: Callable[[], None]) -> None:
        """Run ``work`` inside the transaction just before it commits (a record that must commit
        with it, or not at all)."""
        self._before_commit.append(work)

    def after_end(self, work: Callable[[Ending], None]) -> None:
        """Tell ``work`` how the unit ended, once it has: committed, rolled back (every compensating
        step done) or not compensated (a step failed: what it left is for a later repair)."""
        self._after_end.append(work)

    def commit(self) -> None:
        while self._before_commit:
            self._before_commit.pop(0)()
        if self._conn is not None:
            self._conn.commit()
        self._journal.clear()
        self._close()
        self._ended("committed")

    def rollback(self) -> None:
        self._rollbacks += 1
        self._before_commit.clear()
        ending: Ending = "not compensated"
        try:
            try:
                # before the SQL rollback, while the transaction still holds its locks: no other
                # writer (nor a backup) sees the directory half undone (a next writer would draw
                # this unit's RIDs again, for one)
                self._compensate(0)
                ending = "rolled back"
            finally:
                if self._conn is not None:
                    self._conn.rollback()
        finally:
            self._close()
            self._ended(ending)

    def _ended(self, ending: Ending) -> None:
        while self._after_end:
            self._after_end.pop(0)(ending)

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
        try:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        finally:
            self._leave_gate()

    def _leave_gate(self) -> None:
        if self._in_gate and self._gate is not None:
            self._in_gate = False
            self._gate.leave()
