"""WAL checkpoints off the request path (SQLite).

In WAL mode a commit only appends to the log; a checkpoint copies the log back into the database
and syncs both.  Left to itself, SQLite runs one inside whichever commit takes the log past
``wal_autocheckpoint`` pages, so that one request pays for everybody's writes: about 25 ms per
thousand pages here, every dozenth commit of a bulk load and every few dozen single-user requests.

A :class:`WalCheckpointer` does it on a thread of its own with its own connection, shortly after
commits, while requests go on (a ``PASSIVE`` checkpoint never waits for readers or writers, and
SQLite releases the GIL while it copies and syncs).  The automatic checkpoint stays as a backstop
at a larger size, for processes where the thread has no time to run (a short CLI command).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# the automatic checkpoint's threshold while a checkpointer runs: 10,000 pages of 4 KiB
BACKSTOP_PAGES = 10_000


class WalCheckpointer:
    """Checkpoints one SQLite database file soon after it has been written to."""

    def __init__(self, path: Path, *, delay: float = 0.2, idle: float = 10.0) -> None:
        self._path = path
        self._delay = delay  # commits within it share one checkpoint (and its two syncs)
        self._idle = idle  # a thread with nothing to do for this long ends; the next write starts one
        self._written = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None  # (busy, frames in the log, frames copied)

    def written(self) -> None:
        """A write transaction committed: checkpoint soon."""
        with self._lock:
            self._written.set()
            if self._pid != os.getpid():  # a forked worker: its parent's thread is not here
                self._pid, self._thread = os.getpid(), None
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(
                    target=self._run, name=f"wal-checkpoint {self._path.name}", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        """Stop the thread after its current checkpoint (the log stays for the next opener)."""
        self._closed.set()
        self._written.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.warning("no background checkpoints for %s; SQLite's own remain", self._path, exc_info=True)
            return
        try:
            while self._wait_for_writes():
                if self._closed.wait(self._delay):
                    return
                try:
                    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # the file went away under us, or I/O: SQLite's own remain
                    log.warning("background checkpoints of %s stop", self._path, exc_info=True)
                    return
                self.last = (busy, frames, copied)
                self.checkpoints += 1
        finally:
            conn.close()

    def _wait_for_writes(self) -> bool:
        """Whether to checkpoint again (writes came); False when closed or idle, the thread then ends."""
        while not self._written.wait(self._idle):
            with self._lock:
                if not self._written.is_set():  # under the lock: a write now starts a new thread
                    self._thread = None
                    return False
        with self._lock:
            self._written.clear()
        return not self._closed.is_set()
