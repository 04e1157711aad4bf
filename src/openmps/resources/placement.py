"""Where storage goes: the Resource Manager's placement algorithms, as pure functions.

Placement only proposes; the ledger commits a proposal with guarded updates, so a proposal made
from a stale view can fail but can never over-book (reference §2.4).

* Organizations get space on business mail stores.  ``tightPack`` fills the stores with the least
  free space first (fewest stores in use system-wide; an organization may span several);
  ``minStoreCount`` takes the stores with the most free space first (fewest stores per
  organization).  Unshared stores serve one organization only, so only stores no other
  organization holds are candidates.
* Mailboxes go on one of their organization's stores: ``tightPack`` the one with the least room
  that still fits, ``level`` the one with the most room (spreads mailboxes, leaves room to upsell).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from openmps.errors import InvalidArgument, QuotaExceeded


class OrgAlgorithm(Enum):
    TIGHT_PACK = "tightPack"
    MIN_STORE_COUNT = "minStoreCount"


class MailboxAlgorithm(Enum):
    TIGHT_PACK = "tightPack"
    LEVEL = "level"


A = TypeVar("A", bound=Enum)


def parse_algorithm(kind: type[A], text: str | None, default: A) -> A:
    if text is None or text == "":
        return default
    for member in kind:
        if member.value.casefold() == text.casefold():
            return member
    allowed = " or ".join(repr(m.value) for m in kind)
    raise InvalidArgument(f"algorithm '{text}' is not {allowed}", algorithm=text)


@dataclass(frozen=True)
class StoreRoom:
    """A mail store as placement sees it: capacity, what is allocated, and who holds it."""

    store_id: int
    name: str
    capacity_kb: int
    allocated_kb: int
    shared: bool
    holders: frozenset[str]  # organization GUIDs with an allocation here

    @property
    def free_kb(self) -> int:
        return self.capacity_kb - self.allocated_kb


@dataclass(frozen=True)
class Slot:
    """An organization's allocation on one store, as mailbox placement sees it."""

    store_id: int
    name: str
    allocated_kb: int
    used_kb: int
    server: str = ""

    @property
    def free_kb(self) -> int:
        return self.allocated_kb - self.used_kb


def plan_organization(
    stores: Sequence[StoreRoom], *, org: str, kilobytes: int, shared: bool, algorithm: OrgAlgorithm
) -> list[tuple[int, int]]:
    """(store_id, kilobytes) pieces adding up to ``kilobytes``; QuotaExceeded when they cannot."""
    if kilobytes <= 0:
        raise InvalidArgument(f"an organization needs a positive amount of storage, not {kilobytes} KB")
    candidates = [
        s for s in stores if s.shared == shared and s.free_kb > 0 and (shared or not (s.holders - {org}))
    ]
    most_free_first = algorithm is OrgAlgorithm.MIN_STORE_COUNT
    candidates.sort(key=lambda s: (-s.free_kb if most_free_first else s.free_kb, s.name.casefold()))
    pieces: list[tuple[int, int]] = []
    needed = kilobytes
    for store in candidates:
        take = min(store.free_kb, needed)
        pieces.append((store.store_id, take))
        needed -= take
        if needed == 0:
            return pieces
    kind = "shared" if shared else "unshared"
    available = sum(s.free_kb for s in candidates)
    raise QuotaExceeded(
        f"not enough {kind} mail storage: {kilobytes // 1024} MB needed, {available // 1024} MB free",
        needed_kb=kilobytes,
        free_kb=available,
    )


def place_mailbox(slots: Sequence[Slot], *, kilobytes: int, algorithm: MailboxAlgorithm) -> Slot:
    """The organization slot that takes a mailbox of ``kilobytes``; QuotaExceeded when none fits."""
    if kilobytes <= 0:
        raise InvalidArgument(f"a mailbox needs a positive size, not {kilobytes} KB")
    fitting = [s for s in slots if s.free_kb >= kilobytes]
    if not fitting:
        free = max((s.free_kb for s in slots), default=0)
        raise QuotaExceeded(
            f"the organization has no store with {kilobytes} KB free (the most on one store is {free} KB)",
            needed_kb=kilobytes,
            free_kb=free,
        )
    if algorithm is MailboxAlgorithm.LEVEL:
        return max(fitting, key=lambda s: (s.free_kb, -s.store_id))
    return min(fitting, key=lambda s: (s.free_kb, s.store_id))
