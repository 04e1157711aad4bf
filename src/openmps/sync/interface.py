"""Sync's own state as the planner and runner see it: the connector space, the cookie, the objects
whose last run failed, the objects waiting on others not managed yet, and run records."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
    def pending(self, org: str, *, limit: int | None = None) -> dict[str, PendingObject]:
        """The objects whose last run failed, oldest first (only the first ``limit``, if given)."""
        ...

    def pending_count(self, org: str) -> int: ...
    def keep_pending(self, org: str, failed: list[PendingObject]) -> None:
        """The organization's failing objects are ``failed`` now (those not in it succeeded or went)."""
        ...

    def waiting_on(self, org: str, targets: Collection[str]) -> set[str]:
        """The source objects (objectGUIDs) waiting on any of ``targets``: DNs in normal form
        (``DN.norm``) they name — a manager, a member — of objects not managed when planned."""
        ...

    def keep_waiting(
        self,
        org: str,
        waiting: Mapping[str, Collection[str]],
        *,
        replacing: Collection[str] | None,
        keeping: Collection[str] = (),
    ) -> None:
        """What each object of ``waiting`` waits on now, over what was kept for the objects
        ``replacing`` (None: every object of the organization but those ``keeping``)."""
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
