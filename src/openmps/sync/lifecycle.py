"""The lifecycle of a synced object: one state machine, and the only place its states change.

    active ──disconnect──▶ disconnected ──purge (after retention)──▶ purged
      ▲  │                    │  │
      │  └──delete (contacts, groups)──▶ purged
      └────reconnect (within retention)┘  └──expire IM (after the IM threshold): stays disconnected

A mailbox on litigation hold blocks every transition that would delete or disconnect it —
deprovisioning (source deletion, out of scope), the explicit deprovisioning rule, the purge —
whatever triggered it: :func:`advance` raises :class:`Held`, and the run records it as an error
naming the object, every run, until the hold is cleared.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from openmps.errors import InvalidOperation
from openmps.sync.interface import ACTIVE, DISCONNECTED, PURGED, Link
from openmps.sync.rules import IM
from openmps.syncconfig.interface import SyncRules

DISCONNECT, DELETE, RECONNECT, PURGE, EXPIRE_IM, REMOVE_MAILBOX = (
    "disconnect",
    "delete",
    "reconnect",
    "purge",
    "expire IM",
    "remove the mailbox of",
)
TRANSITIONS: dict[tuple[str, str], str] = {
    (ACTIVE, DISCONNECT): DISCONNECTED,
    (ACTIVE, DELETE): PURGED,
    (ACTIVE, REMOVE_MAILBOX): ACTIVE,
    (ACTIVE, RECONNECT): ACTIVE,  # a held user whose source object is gone, claimed by its new one
    (DISCONNECTED, RECONNECT): ACTIVE,
    (DISCONNECTED, PURGE): PURGED,
    (DISCONNECTED, EXPIRE_IM): DISCONNECTED,
}
BLOCKED_BY_HOLD = frozenset({DISCONNECT, DELETE, REMOVE_MAILBOX, PURGE})


class Held(InvalidOperation):
    """A transition refused because the object's mailbox is on litigation hold."""


def advance(link: Link, event: str, *, held: bool, rules: SyncRules, now: datetime) -> Link:
    """``link`` after ``event``; InvalidOperation for a transition the lifecycle does not have."""
    if held and event in BLOCKED_BY_HOLD:
        raise Held(
            f"{link.managed_dn}: its mailbox is on litigation hold, so sync does not {event} it "
            "(clear the hold to let the rules apply)",
            dn=link.managed_dn,
        )
    state = TRANSITIONS.get((link.state, event))
    if state is None:
        raise InvalidOperation(f"{link.managed_dn}: a {link.state} object cannot {event}", dn=link.managed_dn)
    if (
        event == RECONNECT
        and link.state == DISCONNECTED
        and (link.retain_until is None or link.retain_until <= now)
    ):
        raise InvalidOperation(f"{link.managed_dn}: its retention period is over", dn=link.managed_dn)
    if event == PURGE and link.retain_until is not None and link.retain_until > now:
        raise InvalidOperation(
            f"{link.managed_dn}: kept until {link.retain_until.isoformat()}", dn=link.managed_dn
        )
    if event == DISCONNECT:
        return replace(
            link,
            state=state,
            retain_until=now + timedelta(days=rules.retention_days),
            im_until=now + timedelta(days=rules.im_threshold_days),
        )
    if event == EXPIRE_IM:
        return replace(link, im_until=None)
    if state == ACTIVE:
        return replace(link, state=state, retain_until=None, im_until=None)
    return replace(link, state=state)


def due(link: Link, now: datetime) -> str | None:
    """The timer a disconnected link has run out of: the purge, or the IM profile's expiry."""
    if link.state != DISCONNECTED:
        return None
    if link.retain_until is not None and link.retain_until <= now:
        return PURGE
    if link.im_until is not None and link.im_until <= now and IM in link.services:
        return EXPIRE_IM
    return None


def reconnectable(link: Link, now: datetime) -> bool:
    return link.state == DISCONNECTED and link.retain_until is not None and link.retain_until > now
