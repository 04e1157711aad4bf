"""Admission: how many requests run in the engine at once, in all and per tenant.

Every door (HTTP, the CLI, tools built on ``Engine.submit``) passes here before a request touches
the store.  A request runs when fewer than ``running`` requests run in all and fewer than its
bucket's limit run in its bucket; otherwise it waits, up to ``wait`` seconds, behind at most as many
waiting requests of its bucket as the bucket may run.  Past that it is answered
:class:`~openmps.errors.ServiceBusy` (HTTP 503 with Retry-After) having changed nothing.

A bucket is the caller's tenant, the customer or reseller organization it belongs to; the hosting
provider's own administrators (and Domain Admins, and the service account) share one bucket of their
own with a limit of its own.  One tenant's load can thus take at most ``per_tenant`` of the
``running`` places, and hold at most twice that many worker threads: the others keep theirs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from openmps.engine.context import Caller
from openmps.errors import InvalidArgument, ServiceBusy

PROVIDER = "(hosting provider)"


@dataclass(frozen=True)
class AdmissionLimits:
    """The bounds of :class:`Admission` (``Capacity.admission`` in ``app.py``)."""

    running: int = 16  # requests in the engine at once, all tenants together
    per_tenant: int = 8  # of those, one customer's or reseller's
    provider: int = 16  # of those, the hosting provider's own administrators'
    wait: float = 5.0  # seconds a request may wait for its place

    def __post_init__(self) -> None:
        for name in ("running", "per_tenant", "provider"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"admission limit '{name}' must be at least 1")
        if self.wait < 0:
            raise InvalidArgument("admission 'wait' must not be negative")


class Admission:
    """The places of :class:`AdmissionLimits`, shared by every thread serving requests.

    ``tenant_of`` names a caller's bucket (:data:`PROVIDER` for the provider's own); it may read
    the store, and raise ServiceBusy when the store cannot answer.
    """

    def __init__(self, limits: AdmissionLimits, tenant_of: Callable[[Caller], str]) -> None:
        self.limits = limits
        self._tenant_of = tenant_of
        self._changed = threading.Condition()
        self._total = 0
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}

    def limit_of(self, bucket: str) -> int:
        return self.limits.provider if bucket == PROVIDER else self.limits.per_tenant

    @contextmanager
    def admit(self, caller: Caller) -> Iterator[str]:
        """Hold a place for one request while the block runs; the caller's bucket is yielded."""
        bucket = self._tenant_of(caller)
        self._enter(bucket)
        try:
            yield bucket
        finally:
            with self._changed:
                self._total -= 1
                self._running[bucket] -= 1
                if not self._running[bucket]:
                    del self._running[bucket]
                self._changed.notify_all()

    def _enter(self, bucket: str) -> None:
        limit = self.limit_of(bucket)
        with self._changed:
            if self._free(bucket, limit):
                self._take(bucket)
                return
            if self._waiting.get(bucket, 0) >= limit:
                raise self._busy(bucket, "waiting")
            deadline = time.monotonic() + self.limits.wait
            self._waiting[bucket] = self._waiting.get(bucket, 0) + 1
            try:
                while not self._free(bucket, limit):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._busy(bucket, "running")
                    self._changed.wait(remaining)
            finally:
                self._waiting[bucket] -= 1
                if not self._waiting[bucket]:
                    del self._waiting[bucket]
            self._take(bucket)

    def _free(self, bucket: str, limit: int) -> bool:
        return self._total < self.limits.running and self._running.get(bucket, 0) < limit

    def _take(self, bucket: str) -> None:
        self._total += 1
        self._running[bucket] = self._running.get(bucket, 0) + 1

    def _busy(self, bucket: str, state: str) -> ServiceBusy:
        whose = (
            "the server's" if self._running.get(bucket, 0) < self.limit_of(bucket) else "your organization's"
        )
        return ServiceBusy(
            f"too many requests are {state}: {whose} limit of concurrent requests is reached; "
            "nothing was changed, send the request again",
            retry_after=1,
        )
