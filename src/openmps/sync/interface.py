"""Sync's own state as the planner and runner see it: the connector space and run records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ACTIVE, DISCONNECTED, PURGED = "active", "disconnected", "purged"  # the lifecycle of a synced object
PENDING = "pending"  # written before its creation is tried: a run that dies is resumed without duplicates


@dataclass(frozen=True)
class Link:
    """A source object (by objectGUID) and the managed object it became."""

    source_guid: str
    kind: str  # user | contact | group
    source_dn: str
    managed_dn: str
    state: str
    digest: str
    retain_until: datetime | None = None


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    started: datetime
    finished: datetime
    preview: bool
    outcome: str  # completed | errors | stopped
    report: str  # JSON: counts per action, errors per object


class SyncState(Protocol):
    def links(self, org: str, state: str | None = None) -> dict[str, Link]: ...
    def save(self, org: str, link: Link) -> None: ...
    def forget(self, org: str, source_guid: str) -> None: ...
    def record_run(
        self, org: str, *, started: datetime, finished: datetime, preview: bool, outcome: str, report: str
    ) -> int: ...
    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]: ...
    def cookie(self, org: str) -> str | None: ...
    def keep_cookie(self, org: str, cookie: str | None) -> None: ...
