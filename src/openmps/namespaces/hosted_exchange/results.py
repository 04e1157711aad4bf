"""Result values several Hosted Exchange procedures answer, in the shapes of the seed responses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from openmps.directory.interface import Entry
from openmps.engine.declaration import Properties, Property, Xml
from openmps.hosting.exchange import MailboxStamp
from openmps.hosting.render import MemberOf
from openmps.resources.requests import PlacedMailbox
from openmps.types import DN

HIDDEN_ATTRIBUTES = frozenset({"userpassword", "unicodepwd", "ntsecuritydescriptor", "otherwellknownobjects"})


def entry_properties(entry: Entry, skip: Iterable[str] = ()) -> Properties:
    """All readable attributes of an entry (``<properties><property name><value/>…``), by name."""
    hidden = HIDDEN_ATTRIBUTES | {s.lower() for s in skip}
    return tuple(
        Property(name, tuple(values))
        for name, values in sorted(entry.items(), key=lambda kv: kv[0].lower())
        if name.lower() not in hidden
    )


@dataclass(frozen=True)
class UserRef:
    """A user: its path and name, its attributes where they were asked for, and its groups."""

    path: Annotated[DN, Xml("@path", "LDAP path of the user")]
    name: Annotated[str, Xml("@name")]
    properties: Annotated[Properties | None, Xml("properties", "its readable attributes")] = None
    member_of: Annotated[tuple[MemberOf, ...], Xml(".", item="memberOfGroup")] = ()


@dataclass(frozen=True)
class CreatedUser:
    """A new user: what its mailbox stamped on it, when a plan gave it one, then the user."""

    mailbox: Annotated[MailboxStamp | None, Xml(".")]
    user: Annotated[UserRef, Xml("user")]


@dataclass(frozen=True)
class StampedMailbox:
    """A mailbox as its plan made it: what was stamped on the user, and the store it is on."""

    stamp: Annotated[MailboxStamp, Xml(".")]
    store: Annotated[PlacedMailbox, Xml("mailStore")]
