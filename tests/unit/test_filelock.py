"""db/filelock.py: an flock taken with a deadline, handed over by a keeper thread blocked in the
kernel (two FileLocks on one file meet each other as two processes would: an flock belongs to
its open file)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from openmps.db.filelock import FileLock


def _free(path: Path) -> bool:
    """Whether nobody holds the lock now (taken and let go again by a third open file)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_waiter_gets_the_lock_when_its_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "db-writer"
    holder, waiter = FileLock(path), FileLock(path)
    assert holder.acquire(time.monotonic() + 1)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(waiter.acquire(time.monotonic() + 10)))
    thread.start()
    time.sleep(0.1)
    assert not got  # waiting, the keeper blocked in flock
    holder.release()
    thread.join(10)
    assert got == [True]
    assert not _free(path)
    waiter.release()
    assert _free(path)
    holder.close()
    waiter.close()


def test_a_waiter_past_its_deadline_is_refused_and_the_lock_let_go_when_it_comes(tmp_path: Path) -> None:
    path = tmp_path / "db-writer"
    holder, waiter = FileLock(path), FileLock(path)
    assert holder.acquire(time.monotonic() + 1)
    assert not waiter.acquire(time.monotonic() + 0.1)
    holder.release()  # the keeper gets it, finds nobody waiting, lets go
    deadline = time.monotonic() + 10
    while not _free(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _free(path)
    assert waiter.acquire(time.monotonic() + 1)  # and the next wait is served
    waiter.release()
    holder.close()
    waiter.close()


def test_a_closed_lock_ends_its_keeper_once_the_lock_comes(tmp_path: Path) -> None:
    path = tmp_path / "db-writer"
    holder, waiter = FileLock(path), FileLock(path)
    assert holder.acquire(time.monotonic() + 1)
    assert not waiter.acquire(time.monotonic() + 0.05)
    waiter.close()  # its keeper is blocked in flock: it closes the file when the lock comes
    keepers = [t for t in threading.enumerate() if t.name == "flock db-writer"]
    assert keepers
    holder.release()
    for keeper in keepers:
        keeper.join(10)
        assert not keeper.is_alive()
    assert _free(path)
    holder.close()
