"""Deltas on a schedule: every ``interval`` seconds, each organization synced from its source in a
run of its own, one after the other, until asked to stop.

One organization's failure (its source unreachable, its password changed) is reported and the
others run; a stop request lets the run under way finish (its batches are transactions, and a run
cut short is resumed anyway) and is answered before the next one starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from openmps.app import Deployment
from openmps.errors import MpsError
from openmps.sync.runner import Run, sync
from openmps.sync.source import Source
from openmps.types import DN


@dataclass(frozen=True)
class Outcome:
    """One organization's turn: its run, or the error that stopped it before it could run."""

    org: DN
    run: Run | None = None
    error: MpsError | None = None


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
