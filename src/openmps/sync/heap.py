"""A run's long-lived objects kept out of the cyclic garbage collector's way.

A run of 100,000 users reads and plans some three million small containers (each source object's
attributes, each link, each planned action), all alive until the run ends and none in a cycle.
CPython's collector scans every tracked object at each full collection, and runs one whenever the
survivors grew by a quarter: reading and planning such a snapshot spent more than half of its CPU
collecting (100,000 users: 20.4 s, 8.8 s without), and every full collection while the plan is
applied scanned them all again.  So collection pauses while they are made (:func:`paused`), and
they are frozen out of it while the plan is applied (:func:`frozen`), where what the procedures
make and drop is collected as usual.  Both only change when the collector runs, never what it frees.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside (cycles made here are freed at the next one after)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frozen() -> Iterator[None]:
    """Every object alive on entry left out of collections until the block ends (``gc.freeze``);
    then back in the oldest generation, freed by reference counting as usual when dropped."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
