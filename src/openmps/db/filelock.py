"""An exclusive ``flock`` on a file, taken with a deadline, whose wait ends the moment its holder
lets go.

A blocking ``flock`` is woken by the kernel as soon as the lock is free, but cannot time out; a
polling one can, but a sleeper notices the release only when it wakes (polls every 50-400 us left
the lock idle about 0.2 ms at each handover between two ``serve`` workers).  So a thread of the
lock's own, the keeper, makes the blocking call for whoever waits, and the waiter waits for the
keeper with its deadline.  A waiter that gives up leaves the keeper blocked: when the lock comes,
the keeper hands it to the next waiter, or lets it go at once if none waits.  The kernel lets go
of a dead process's lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path


class FileLock:
    """``flock(LOCK_EX)`` on ``path`` (made 0600 when missing) for one thread at a time of this
    process: callers serialize their own threads before :meth:`acquire`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None  # opened at the first acquire
        self._changed = threading.Condition()
        self._held = False  # this process holds the lock
        self._wanted = False  # a thread waits for it
        self._keeper_blocked = False  # the keeper is in a blocking flock
        self._keeper: threading.Thread | None = None
        self._closed = False

    def acquire(self, deadline: float) -> bool:
        """Take the lock by ``deadline`` (``time.monotonic``); False if it was not free by then."""
        with self._changed:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if not self._keeper_blocked:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._held = True
                    return True
                except BlockingIOError:
                    pass
            self._wanted = True
            if self._keeper is None:
                name = f"flock {self._path.name}"
                self._keeper = threading.Thread(target=self._keep, name=name, daemon=True)
                self._keeper.start()
            self._changed.notify_all()
            if self._changed.wait_for(lambda: self._held, timeout=max(0.0, deadline - time.monotonic())):
                return True
            self._wanted = False  # the keeper lets the lock go when it comes
            return False

    def release(self) -> None:
        with self._changed:
            assert self._fd is not None and self._held
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file once nobody holds or waits for the lock (the keeper closes it if blocked)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            if self._fd is not None and not self._keeper_blocked:
                os.close(self._fd)
                self._fd = None

    def _keep(self) -> None:
        """Take the lock for each waiter with a blocking flock, hand it over, and wait again."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._wanted or self._closed)
                if self._closed:
                    self._keeper = None
                    return
                fd = self._fd
                self._keeper_blocked = True
            assert fd is not None
            fcntl.flock(fd, fcntl.LOCK_EX)  # woken by the kernel when the holder lets go
            with self._changed:
                self._keeper_blocked = False
                if self._wanted and not self._closed:
                    self._wanted, self._held = False, True
                    self._changed.notify_all()
                else:  # the waiter gave up meanwhile
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    if self._closed:
                        os.close(fd)
                        self._fd, self._keeper = None, None
                        return
