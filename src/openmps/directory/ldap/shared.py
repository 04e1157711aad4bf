"""What a process keeps of a directory server from one request to the next: the attributes every
authorization check reads (DACLs and object classes for the access check, an organization's
well-known pointers and UPN suffixes for its chain of organizations), of the entries they were
read on, each under the directory's generation it was read at.

Every request of a delegate reads the DACLs and organizations of its target's parents, which
change seldom; asking the server each time was a search per request.  Trusting them across
requests, and across processes, rests on the generation (:mod:`openmps.directory.sql.generation`),
read in the request's SQL transaction: the backend replaces it with every write that changes one of
these attributes, deletes, moves or renames an entry, and after undoing one.  An entry added needs
none: an absent entry is never kept.  The generation is read before the server is, so what is kept
is never older than the generation it is kept under.
"""

from __future__ import annotations

import threading
from typing import Protocol

from openmps.directory.interface import Entry
from openmps.types import DN

# lower-cased; the entries' objectGUID and objectSid, which never change, are kept with them
SHARED_ATTRIBUTES = frozenset({"objectclass", "ntsecuritydescriptor", "otherwellknownobjects", "upnsuffixes"})
LIMIT = 10_000  # entries kept: a long-running server meets many organizations


class Generations(Protocol):
    """The directory's generation as one unit of work sees it (``SqlGenerations``)."""

    def current(self) -> str: ...

    def bump(self) -> None:
        """A write changing what is kept is being made in this unit of work."""
        ...

    def undone(self) -> None:
        """Such a write was undone."""
        ...


class SharedEntries:
    """The entries kept by one process, for all its threads and requests."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._entries: dict[DN, tuple[str, Entry]] = {}
        self._lock = threading.Lock()

    def get(self, dn: DN, generation: str) -> Entry | None:
        """The entry at ``dn`` as kept under ``generation``; None if not kept, or under another."""
        kept = self._entries.get(dn)
        return kept[1] if kept is not None and kept[0] == generation else None

    def put(self, entry: Entry, generation: str) -> None:
        with self._lock:
            if len(self._entries) >= self._limit and entry.dn not in self._entries:
                self._entries.clear()  # all of a stale generation, or too many to matter
            self._entries[entry.dn] = (generation, entry)
