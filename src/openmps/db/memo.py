"""What a transaction has already read or written, so it does not ask the store twice.

A bulk request creates a hundred users in one organization: each one looks up the same parent
entry, the same plan, the same available-plan row, the same SMTP domains.  A provider bound to one
unit of work keeps those answers in a :class:`TransactionMemo`.  It is only as good as its
invalidation, so the rules are few and strict:

* it lives and dies with one unit of work, and a unit of work has one provider of each kind
  (``Deployment.providers``): a second directory on the same transaction would not see the first
  one's writes in its memo;
* the provider that owns it updates or forgets a key in every method that writes what it caches
  (nothing else writes those tables);
* it forgets everything whenever any part of the transaction rolls back (a ``<try>`` or a
  ``forEach onError="continue"`` item), since a rolled-back write may have been remembered.
  :class:`~openmps.db.store.SqlUnitOfWork` counts its rollbacks for this.

Values are only put after the statement that read or wrote them succeeded.  On SQLite a
transaction reads one snapshot, and a writer holds the write lock from its first statement, so no
one else changes what it remembers; a unit of work that lets its snapshot go to take the lock
(``SqlUnitOfWork.will_write``) counts that as a rollback.  On a server database a transaction sees
each remembered row as it first met it.  Nothing that guards an
invariant is remembered: the Resource Manager reads and writes its ledger every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TransactionMemo(Generic[K, V]):
    """A dict scoped to one transaction; ``rollbacks`` None: remembers nothing (no way to know)."""

    def __init__(self, rollbacks: Callable[[], int] | None, *, limit: int = 4096) -> None:
        self._rollbacks = rollbacks
        self._limit = limit  # a bulk load of a million entries must not keep them all
        self._seen = rollbacks() if rollbacks is not None else 0
        self._values: dict[K, V] = {}

    def _current(self) -> dict[K, V]:
        if self._rollbacks is None:
            self._values.clear()
            return self._values
        count = self._rollbacks()
        if count != self._seen:  # something rolled back since: any value may be stale
            self._values.clear()
            self._seen = count
        return self._values

    def get(self, key: K) -> V | None:
        return self._current().get(key)

    def put(self, key: K, value: V) -> None:
        if self._rollbacks is not None:
            values = self._current()
            if len(values) >= self._limit:
                values.clear()
            values[key] = value

    def forget(self, key: K) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
