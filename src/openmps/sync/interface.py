"""Sync's own state as the planner and runner see it: the connector space and run records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openmps.syncconfig.interface import RunRecord

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
    retain_until: datetime | None = None  # disconnected: the mailbox is kept until then
    anchor: str | None = None  # the reconnection anchor's value, folded
    im_until: datetime | None = None  # disconnected: the IM profile is kept until then
    services: frozenset[str] = frozenset()  # a user's: mailbox, im


class SyncState(Protocol):
    def links(self, org: str) -> dict[str, Link]: ...
    def save(self, org: str, link: Link) -> None: ...
    def forget(self, org: str, source_guid: str) -> None: ...
    def record_run(
        self, org: str, *, started: datetime, finished: datetime, preview: bool, outcome: str, report: str
    ) -> int: ...
    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]: ...


__all__ = ["ACTIVE", "DISCONNECTED", "PENDING", "PURGED", "Link", "RunRecord", "SyncState"]
