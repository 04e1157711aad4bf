"""A busy store, mapped once at the store's edge: what a lock conflict means to a request.

Two outcomes, by the database's own error code:

* the transaction lost a race it can win by starting again (SQLite refused to upgrade a read
  snapshot to a write because another writer holds the lock or committed since, ``SQLITE_BUSY`` /
  ``SQLITE_BUSY_SNAPSHOT`` on a deferred transaction; PostgreSQL chose it as a deadlock victim or
  refused to serialize it) → :class:`~openmps.engine.context.StoreConflict`, which the engine
  answers by running the request again from scratch, the write lock taken up front;
* the store did not give the lock (or a pooled connection) within the configured wait →
  :class:`~openmps.errors.ServiceBusy` (HTTP 503 with Retry-After): nothing was changed.

Everything else is left as the driver raised it.
"""

from __future__ import annotations

from typing import Final

from openmps.engine.context import StoreConflict
from openmps.errors import ServiceBusy

SQLITE_BUSY: Final = 5
SQLITE_LOCKED: Final = 6
# Extended codes: the WAL's write lock was taken, but the snapshot is older than the newest commit
# (517); a reader met a WAL being recovered (261).
SQLITE_BUSY_SNAPSHOT: Final = 517
SQLITE_BUSY_RECOVERY: Final = 261
_SQLITE_BUSY_CODES = frozenset({SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY})
# PostgreSQL: serialization_failure, deadlock_detected (the victim is rolled back whole: a re-run
# succeeds) and lock_not_available (lock_timeout passed).
PG_RERUN: Final = frozenset({"40001", "40P01"})
PG_LOCK_TIMEOUT: Final = "55P03"


def busy(what: str, *, retry_after: int = 1) -> ServiceBusy:
    return ServiceBusy(
        f"the store is busy ({what}); nothing was changed, send the request again", retry_after=retry_after
    )


def translate(exc: BaseException, *, rerunnable: bool) -> BaseException | None:
    """The error a driver exception stands for at the store's edge, or None to leave it as is.

    ``rerunnable``: the engine runs this transaction and may run it again (on SQLite it began
    without the write lock, ``BEGIN``), so a refused lock is a conflict to re-run, not a busy store.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        if code not in _SQLITE_BUSY_CODES:
            return None
        if rerunnable:
            return StoreConflict(f"SQLite refused the write lock (code {code})")
        return busy("the write lock was not free within the busy timeout")
    state = getattr(exc, "sqlstate", None)
    if state in PG_RERUN:
        if rerunnable:
            return StoreConflict(f"PostgreSQL refused the transaction (SQLSTATE {state})")
        return busy(f"PostgreSQL refused the transaction, SQLSTATE {state}")
    if state == PG_LOCK_TIMEOUT:
        return busy("a lock was not free within lock_timeout")
    return None
