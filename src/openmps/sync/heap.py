"""A run's long-lived objects kept out of the cyclic garbage collector's way.

A run of 100,000 users reads and plans some three million small containers (each source object's
attributes, each link, each planned action), and its batches leave more (the links saved, the
managed DNs), all alive until the run ends and none in a cycle.  CPython's collector scans every
tracked object at each full collection, and runs one whenever the survivors grew by a quarter:
reading and planning such a snapshot spent more than half of its CPU collecting (100,000 users:
20.4 s, 8.8 s without), and each full collection while the plan was applied scanned them again.
So a run pauses collection while it reads and plans, and then, and after each batch, freezes what
is alive out of later collections (``gc.freeze``) until it ends; what the procedures make and drop
is collected as usual.  This only changes when the collector runs, never what it frees.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[Callable[[], None]]:
    """No cyclic collection inside until the block calls what it is given (``settle()``): then
    what the youngest generations hold is collected (unless collection was paused), everything
    still alive is frozen, and collection goes on.  At the end the frozen objects are back in the
    oldest generation (freed by reference counting as usual when dropped) and the collector is as
    it was."""
    enabled = gc.isenabled()
    gc.disable()

    def settle() -> None:
        if gc.isenabled():  # what was made since the last settle: its garbage first
            gc.collect(1)
        gc.freeze()
        if enabled:
            gc.enable()

    try:
        yield settle
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
