"""Sync's own state as the planner and runner see it: the connector space, the cookie, the objects
whose last run failed, and run records."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

# the connector space's records are the sync configuration provider's, which PreviewSync reads too
from openmps.syncconfig.interface import (
    ACTIVE,
    DISCONNECTED,
    PENDING,
    PURGED,
    Link,
    PendingObject,
    RunRecord,
    RunRetention,
)


class SyncState(Protocol):
    def links(
        self, org: str, state: str | None = None, *, guids: Collection[str] | None = None
    ) -> dict[str, Link]:
        """The organization's connector space (only the links in ``state``, or of the source
        objects ``guids``, if given)."""
        ...

    def save(self, org: str, link: Link) -> None: ...
    def save_all(self, org: str, links: Sequence[Link]) -> None: ...
    def forget(self, org: str, source_guid: str) -> None: ...
    def record_run(
        self, org: str, *, started: datetime, finished: datetime, preview: bool, outcome: str, report: str
    ) -> int: ...
    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]: ...
    def cookie(self, org: str) -> str | None: ...
    def keep_cookie(self, org: str, cookie: str | None) -> None: ...
    def pending(self, org: str) -> dict[str, PendingObject]: ...
    def keep_pending(self, org: str, failed: list[PendingObject]) -> None:
        """The organization's failing objects are ``failed`` now (those not in it succeeded or went)."""
        ...

    def prune_runs(self, org: str, retention: RunRetention, *, now: datetime) -> int:
        """Delete the organization's run records ``retention`` does not keep; how many."""
        ...


__all__ = [
    "ACTIVE",
    "DISCONNECTED",
    "PENDING",
    "PURGED",
    "Link",
    "PendingObject",
    "RunRecord",
    "RunRetention",
    "SyncState",
]
