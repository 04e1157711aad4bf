"""The Resource Manager's ledger, as the namespaces see it: registered stores and who holds how much.

Invariants, at every moment and under concurrent requests from many processes:
* the allocations on a store never exceed its capacity;
* the mailboxes of an organization on a store never exceed the organization's allocation there;
* an unshared store serves one organization only.
Implementations (``resources/sql.py``) commit every change that could break one with a guarded
update whose row count is checked, so a placement made from a stale view fails cleanly
(QuotaExceeded) instead of over-booking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from openmps.resources.placement import Slot, StoreRoom

BUSINESS, CONSUMER, PUBLIC = "business", "consumer", "public"
KB_PER_MB = 1024


@dataclass(frozen=True)
class Store:
    store_id: int
    kind: str
    server_name: str
    store_name: str
    shared: bool
    capacity_kb: int
    allocated_kb: int
    organizations: int

    @property
    def free_kb(self) -> int:
        return self.capacity_kb - self.allocated_kb


@dataclass(frozen=True)
class MailboxPlace:
    mailbox: str
    org: str
    store: Store
    size_kb: int


class ResourceLedger(Protocol):
    def add_store(self, *, kind: str, server: str, name: str, megabytes: int, shared: bool) -> Store: ...
    def add_front_end(self, server: str) -> None: ...
    def front_ends(self) -> list[str]: ...
    def stores(self, kind: str | None = None) -> list[Store]: ...
    def store(self, kind: str, name: str) -> Store: ...
    def stores_by_id(self, ids: Sequence[int]) -> dict[int, Store]: ...
    def resize_store(self, kind: str, name: str, megabytes: int) -> Store: ...
    def resize_store_by(self, kind: str, name: str, megabytes: int, *, at_most: int) -> Store:
        """Change a store's size by ``megabytes`` in one guarded statement (a concurrent resize is
        never lost); QuotaExceeded if it would end below what is allocated on it, at 0 or less,
        or past ``at_most`` megabytes."""
        ...

    def remove_store(self, kind: str, name: str) -> None: ...
    def rooms(self, kind: str) -> list[StoreRoom]: ...
    def candidates(
        self, kind: str, *, org: str, shared: bool, most_free_first: bool, kilobytes: int
    ) -> list[StoreRoom]:
        """The stores ``org`` may get space on, in placement order (free space, then name), only as
        many as cover ``kilobytes`` (all of them when they cannot): what placement needs to see
        among thousands of stores."""
        ...

    def allocate(self, org: str, pieces: Sequence[tuple[int, int]]) -> None: ...
    def slots(self, org: str, kind: str | None = None) -> list[Slot]: ...
    def shrink(self, org: str, store_id: int, kilobytes: int) -> None:
        """Give back part of an organization's allocation on a store; QuotaExceeded when its
        mailboxes use more than what would be left.  An emptied allocation disappears."""
        ...

    def deallocate_organization(self, org: str) -> int: ...
    def place_mailbox(self, *, org: str, mailbox: str, store_id: int, kilobytes: int) -> None: ...
    def mailbox(self, mailbox: str) -> MailboxPlace | None: ...
    def mailboxes(self) -> list[MailboxPlace]:
        """Every placed mailbox (the consistency check reads them all)."""
        ...

    def release_mailbox(self, mailbox: str) -> MailboxPlace: ...
    def resize_mailbox(self, mailbox: str, kilobytes: int) -> MailboxPlace:
        """Grow or shrink a mailbox where it is; QuotaExceeded when its organization lacks the room there."""
        ...
