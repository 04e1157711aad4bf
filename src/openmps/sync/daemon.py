"""Deltas on a schedule: every ``interval`` seconds, each organization synced from its source in a
run of its own, one after the other, until asked to stop.

One organization's failure (its source unreachable, its password changed) is reported and the
others run; a stop request lets the run under way finish (its batches are transactions, and a run
cut short is resumed anyway) and is answered before the next one starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from openmps.app import Deployment
from openmps.directory import filters
from openmps.directory.interface import Scope
from openmps.errors import MpsError, NotFound
from openmps.sync.ldap_source import LdapSource
from openmps.sync.runner import Run, stored_connection, sync
from openmps.sync.source import Snapshot, Source
from openmps.types import DN


@dataclass(frozen=True)
class Outcome:
    """One organization's turn: its run, or the error that stopped it before it could run."""

    org: DN
    run: Run | None = None
    error: MpsError | None = None

    def line(self) -> str:
        """The daemon's log line for it: the run's outcome, counts and failing objects, or the error."""
        if self.run is None:
            assert self.error is not None
            return f"{self.org}: error {self.error.hex_code}: {self.error.description}"
        counts = ", ".join(f"{k} {v}" for k, v in self.run.counts.items())
        run = self.run
        return f"{self.org}: run {run.run_id} {run.outcome}: {counts}; failing objects {run.failing}"


class StoredSource:
    """An organization's forest as its stored connection reaches it at each read (the password
    decrypted then, so one organization's unreadable connection is its run's error alone)."""

    def __init__(self, d: Deployment, org: DN) -> None:
        self.d, self.org = d, org

    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        return self._source().read(cookie, attributes=attributes)

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        return self._source().reread(guids, attributes=attributes)

    def _source(self) -> LdapSource:
        connection = stored_connection(self.d, self.org)
        if connection is None:
            raise NotFound(f"{self.org.ldap_path} has no stored connection", dn=str(self.org))
        return LdapSource(connection)


def stored_sources(d: Deployment) -> dict[DN, Source]:
    """Every organization with a stored connection (SetSyncConnection), and its forest; asked again
    each round, so a connection set or removed counts at the next."""

    def look(providers):  # type: ignore[no-untyped-def]
        found = []
        for org_guid in providers.sync.connected():
            hits = providers.directory.search(
                d.layout.domain, Scope.SUBTREE, filters.eq("objectGUID", org_guid), limit=1
            )
            found += [hit.dn for hit in hits]
        return found

    organizations: list[DN] = d.inspect(look)
    return {org: StoredSource(d, org) for org in organizations}


def serve(
    d: Deployment,
    sources: Callable[[], Mapping[DN, Source]],
    *,
    interval: float,
    stop: threading.Event,
    told: Callable[[Outcome], None] = lambda outcome: None,
) -> int:
    """Run every organization of ``sources()`` (asked again each round: a connection changed or
    added is used at the next round) every ``interval`` seconds until ``stop`` is set; the number
    of rounds run.  ``told`` hears each organization's outcome."""
    rounds = 0
    while not stop.is_set():
        for org, source in sources().items():
            if stop.is_set():
                break
            try:
                told(Outcome(org, run=sync(d, org, source)))
            except MpsError as error:
                told(Outcome(org, error=error))
        rounds += 1
        stop.wait(interval)
    return rounds
