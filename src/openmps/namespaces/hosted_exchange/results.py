"""Result values several Hosted Exchange procedures answer, in the shapes of the seed responses."""

from __future__ import annotations

from collections.abc import Iterable

from openmps.directory.interface import Entry
from openmps.engine.declaration import Properties, Property

HIDDEN_ATTRIBUTES = frozenset({"userpassword", "unicodepwd", "ntsecuritydescriptor", "otherwellknownobjects"})


def entry_properties(entry: Entry, skip: Iterable[str] = ()) -> Properties:
    """All readable attributes of an entry (``<properties><property name><value/>…``), by name."""
    hidden = HIDDEN_ATTRIBUTES | {s.lower() for s in skip}
    return tuple(
        Property(name, tuple(values))
        for name, values in sorted(entry.items(), key=lambda kv: kv[0].lower())
        if name.lower() not in hidden
    )
