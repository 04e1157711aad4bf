"""Core statements compiled once per dialect and run on the connection's DBAPI cursor.

SQLAlchemy's execution path costs ~40 µs per statement even with its compiled cache; the same
statement on the DBAPI cursor costs ~4 µs.  A provisioning request runs a dozen small statements,
so for the hot ones the difference is most of the request.  ``Prepared`` keeps them written as
SQLAlchemy Core (one definition, any dialect) and runs them inside the same transaction, on the
same DBAPI connection, that the SQLAlchemy ``Connection`` holds.  Parameters go through the
dialect's bind processors (datetimes on SQLite); results come back as the driver gives them, so
use it for statements whose results are text and integers.
"""

from __future__ import annotations

import itertools
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from openmps.db.busy import translate


def driver(conn: Connection) -> Any:
    """The DBAPI driver's own connection under ``conn`` (sqlite3's or psycopg's)."""
    return cast(Any, conn.connection.driver_connection)


class Result:
    """The rows of one execution, as named tuples (``row.id``), with SQLAlchemy-like accessors."""

    def __init__(self, cursor: Any, row_type: Any) -> None:
        self._cursor = cursor
        self._row_type = row_type

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def __iter__(self) -> Iterator[Any]:
        make = self._row_type._make
        return (make(r) for r in self._cursor)

    def all(self) -> list[Any]:
        make = self._row_type._make
        return [make(r) for r in self._cursor.fetchall()]

    def tuples(self) -> list[tuple[Any, ...]]:
        """The rows as plain tuples, in column order: for loops where per-row objects cost too much."""
        return list(self._cursor.fetchall())

    def first(self) -> Any | None:
        row = self._cursor.fetchone()
        return None if row is None else self._row_type._make(row)

    def scalar_one(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise LookupError("the statement returned no row")
        return row[0]


class Prepared:
    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[
            str, tuple[str, tuple[str, ...] | None, Any, dict[str, Any], dict[str, Any]]
        ] = {}

    def _for(
        self, conn: Connection
    ) -> tuple[str, tuple[str, ...] | None, Any, dict[str, Any], dict[str, Any]]:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=conn.dialect))
            if "POSTCOMPILE" in compiled.string:
                raise TypeError("a prepared statement needs a fixed shape: no expanding IN parameters")
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            columns = [c[0] for c in getattr(compiled, "_result_columns", ())] or ["value"]
            row_type = cast(Any, namedtuple)("Row", columns, rename=True)  # fields known at run time
            # literals in the statement (``value + 1``) are anonymous parameters with defaults
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            processors = dict(compiled._bind_processors)
            found = (compiled.string, order, row_type, defaults, processors)
            self._compiled[name] = found
        return found

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Result:
        sql, order, row_type, defaults, processors = self._for(conn)
        cursor = driver(conn).cursor()
        values = {**defaults, **params} if params else defaults
        if processors:
            values = _processed(values, processors)
        args = [values[k] for k in order] if order is not None else values
        try:
            cursor.execute(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translate(sql, args, exc, conn) from exc
        return Result(cursor, row_type)

    def execute_ordered(self, conn: Connection, keys: tuple[str, ...], args: Sequence[Any]) -> Result:
        """:meth:`execute` with the parameters ``keys`` given as ``args``, in that order.  Where the
        driver takes them in that very order (SQLite's ``?``), they go as they are: a multi-row
        insert of a hundred values skips building and reordering a mapping of five hundred."""
        sql, order, row_type, defaults, processors = self._for(conn)
        if order != keys or defaults or processors:
            return self.execute(conn, dict(zip(keys, args, strict=True)))
        cursor = driver(conn).cursor()
        try:
            cursor.execute(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translate(sql, args, exc, conn) from exc
        return Result(cursor, row_type)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        sql, order, _, _, processors = self._for(conn)
        cursor = driver(conn).cursor()
        if processors:
            rows = [_processed(r, processors) for r in rows]
        args = [[r[k] for k in order] for r in rows] if order is not None else rows
        try:
            cursor.executemany(sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _translate(sql, args, exc, conn) from exc


def _processed(values: Mapping[str, Any], processors: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for key, process in processors.items():
        if out.get(key) is not None:
            out[key] = process(out[key])
    return out


def _translate(sql: str, args: Any, exc: Exception, conn: Connection) -> BaseException:
    """The SQLAlchemy exception (IntegrityError, …) callers already handle, as SQLAlchemy would raise,
    or what a busy store means (``db/busy.py``), as the engine's ``handle_error`` hook maps it."""
    rerunnable = conn.get_execution_options().get("openmps_rerunnable", False)
    mapped = translate(exc, rerunnable=rerunnable)
    if mapped is not None:
        return mapped
    return DBAPIError.instance(sql, args, exc, conn.dialect.loaded_dbapi.Error)


_savepoints = itertools.count(1)


@contextmanager
def atomic(
    conn: Connection, *, one_write: bool = False, before_rollback: Callable[[], None] | None = None
) -> Iterator[None]:
    """A savepoint on the DBAPI connection: the statements inside apply whole or not at all.

    One directory operation (an add with its values, a modify with all its changes) must be atomic
    even when the request goes on after its failure (inside ``<try>``), and on PostgreSQL a failed
    statement is only recoverable through a savepoint.  Raw, like ``Prepared``: two cheap
    statements instead of SQLAlchemy's nested-transaction machinery.  ``one_write``: the block
    writes with a single statement, which SQLite already applies whole or not at all (a failed
    statement leaves the transaction as it was), so only PostgreSQL needs the savepoint.
    ``before_rollback``: what must run before the savepoint is rolled back (the block's writes
    outside SQL undone, ``SqlUnitOfWork.savepoint``); it is rolled back whether that fails or not.
    """
    if one_write and conn.dialect.name == "sqlite":
        yield
        return
    cursor = driver(conn).cursor()
    name = f"openmps_{next(_savepoints)}"
    cursor.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        try:
            if before_rollback is not None:
                before_rollback()
        finally:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cursor.execute(f"RELEASE SAVEPOINT {name}")
        raise
    cursor.execute(f"RELEASE SAVEPOINT {name}")


@contextmanager
def compensated(conn: Connection) -> Iterator[list[Callable[[], None]]]:
    """Like :func:`atomic`, without the savepoint on SQLite: the block appends, after each write,
    how to undo it, and a failure runs those undos newest first before it propagates.

    SQLite undoes a failed statement by itself, so only the writes before it need undoing; a
    savepoint pair costs more than an add's own statements (a bulk request adds a user in a few
    hundred microseconds, the pair took about 60 of them).  Other databases get the savepoint and
    the undos are not run.
    """
    undos: list[Callable[[], None]] = []
    if conn.dialect.name != "sqlite":
        with atomic(conn):
            yield undos
        return
    try:
        yield undos
    except BaseException:
        for undo in reversed(undos):
            undo()
        raise
