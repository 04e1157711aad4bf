"""The directory's generation: a token in the ``settings`` table that every write which may change
what a process keeps of a directory server between requests (a DACL, an object class, an
organization's pointers or UPN suffixes; an entry deleted, moved or renamed) replaces, in the
same transaction as the write.  A process reads it in each request's transaction and trusts what
it kept only under the token it reads (:mod:`openmps.directory.ldap.shared`), so a change made by
any process, the CLI beside ``openmps serve`` included, is seen by every other at its next request.

A token is random, not a counter: a unit that bumps and rolls back must not hand the same value
to the next bump, which would make what was read of its undone writes current again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from openmps.db.prepared import Prepared
from openmps.db.schema import settings
from openmps.db.store import Ending, SqlUnitOfWork

NAME = "directory_generation"
_READ = Prepared(select(settings.c.value).where(settings.c.name == NAME))
_SET = Prepared(update(settings).where(settings.c.name == NAME).values(value=bindparam("value")))
_ADD = Prepared(insert(settings).values(name=NAME, value=bindparam("value")))

log = logging.getLogger("openmps.directory")


def _replace(conn: Connection) -> None:
    token = secrets.token_hex(8)
    if _SET.execute(conn, {"value": token}).rowcount == 0:  # a deployment made before it existed
        _ADD.execute(conn, {"value": token})


def bump_now(engine: Engine) -> None:
    """A new generation in a transaction of its own (after a unit's writes were undone)."""
    uow = SqlUnitOfWork(engine)
    try:
        _replace(uow.connection)
    except BaseException:
        uow.rollback()
        raise
    uow.commit()


class SqlGenerations:
    """The generation as one unit of work sees and changes it."""

    def __init__(
        self,
        connection: Callable[[], Connection],
        *,
        engine: Engine,
        before_commit: Callable[[Callable[[], None]], None],
        after_end: Callable[[Callable[[Ending], None]], None],
    ) -> None:
        self._connection = connection
        self._engine = engine
        self._before_commit = before_commit
        self._after_end = after_end
        self._settling = False  # after_end registered
        self._undone: str | None = None  # this unit undid a write: its own token from here on

    def current(self) -> str:
        if self._undone is not None:
            return self._undone
        row = _READ.execute(self._connection(), {}).first()
        return "" if row is None else str(row.value)

    def bump(self) -> None:
        """A write that changes what processes keep is being made in this unit."""
        self._renew()
        self._settle_at_end()

    def undone(self) -> None:
        """One such write was undone (a ``<try>``'s savepoint, or the whole unit rolling back).

        No SQL here: the transaction may be failing (PostgreSQL refuses every statement then).
        Other processes may have kept what the undone write made under the generation in force, so
        a new one is made before this unit commits, or after it ended if it does not; meanwhile
        this unit keeps nothing under a token another could read."""
        if self._undone is None:
            self._undone = "undone:" + secrets.token_hex(8)
            self._before_commit(self._renew)
        self._settle_at_end()

    def _renew(self) -> None:
        _replace(self._connection())

    def _settle_at_end(self) -> None:
        if not self._settling:
            self._settling = True
            self._after_end(self._settle)

    def _settle(self, ending: Ending) -> None:
        if ending == "committed":
            return
        # a rolled back unit's bumps went with it, while other processes may have read its
        # writes before they were undone: they must not trust what they kept of them
        try:
            bump_now(self._engine)
        except Exception as exc:  # the request's own error is the one its caller must see
            log.error("the directory generation could not be renewed after a rollback: %s", exc)
