"""The LDAP writes of a request that may outlive its process: intent logs, and their recovery.

A request's SQL work and its LDAP writes end together in-process (the unit of work replays the
inverses on a rollback), but a process killed between its LDAP writes and its SQL commit leaves
writes nobody undoes.  So every write's inverse is also appended to the request's *intent log*, a
file of its own in the deployment's home, BEFORE the write is sent; the request's SQL transaction
records its id just before it commits (``directory_commits``, :mod:`openmps.directory.sql.commits`),
and the log is removed once the request has ended.  A log found later belongs to a process that
died (a live one holds an exclusive ``flock`` on its log): if its request is recorded as committed
the log is only removed; otherwise its inverses are replayed in reverse (:func:`recover`), which
the next start of the deployment does, and a running server's sweep (:func:`DurableJournal.recover`
skips the logs of requests in flight: their process holds the lock).  A rollback whose
compensation failed keeps its log too.

A file, not a SQL table: on SQLite the request's transaction holds the only write lock, so a
record written beside it, in a transaction of its own, would wait for it.  Each record reaches the
disk (``fdatasync``; the folder's entry too, when the log is made) before the write it covers is
sent, so it survives a power cut as well as a dead process.  A removal is made durable (the
folder synced) before it matters: before a commit drops the marks of logs removed, and after a
rollback's (a log coming back after a cut would undo again what later requests wrote).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

from openmps.directory.ldap.connection import LdapConnection, LdapRefused, mapped
from openmps.errors import AlreadyExists, ConstraintViolation, MpsError, NotFound, ServiceBusy

log = logging.getLogger(__name__)

Step = dict[
    str, Any
]  # one inverse, as JSON: {"op": "delete" | "add" | "modify" | "move" | "reanimate", "dn": …}
Wire = Mapping[str, Sequence[bytes]]
_OPS = {"MODIFY_ADD": MODIFY_ADD, "MODIFY_DELETE": MODIFY_DELETE, "MODIFY_REPLACE": MODIFY_REPLACE}
SUFFIX = ".log"
REFUSED: Step = {"op": "refused", "dn": ""}  # recorded after a write the server refused: not undone
_SHOW_DELETED = ("1.2.840.113556.1.4.417", True, None)  # AD: tombstones are found too
# Marks of finished requests dropped together: one sync of the folder (their logs' removal) for
# that many commits, not one for each; the table holds at most about as many rows per process.
FORGET_BATCH = 32


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(v).decode("ascii") for v in values]


def _raw(values: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def delete_step(dn: str) -> Step:
    return {"op": "delete", "dn": dn}


def add_step(dn: str, attributes: Wire) -> Step:
    return {"op": "add", "dn": dn, "attributes": {k: _b64(v) for k, v in attributes.items()}}


def modify_step(dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[bytes]]]]) -> Step:
    return {
        "op": "modify",
        "dn": dn,
        "changes": {k: [[op, _b64(v)] for op, v in c] for k, c in changes.items()},
    }


def move_step(dn: str, rdn: str, superior: str | None) -> Step:
    """Move ``dn`` to the RDN ``rdn`` under ``superior`` (None: the same parent)."""
    return {"op": "move", "dn": dn, "rdn": rdn, "superior": superior}


def reanimate_step(dn: str, guid: str, attributes: Wire) -> Step:
    """AD's undelete of ``dn``: its tombstone (found by ``guid``) made the entry again, with the
    ``attributes`` a tombstone loses."""
    return {
        "op": "reanimate",
        "dn": dn,
        "guid": guid,
        "attributes": {k: _b64(v) for k, v in attributes.items()},
    }


def apply(connection: LdapConnection, step: Step) -> None:
    """Send one step; the server's refusal as an :mod:`openmps.errors` error."""
    try:
        if step["op"] == "reanimate":
            _reanimate(connection, step)
        else:
            connection.run(step["dn"], lambda c: _send(c, step))
    except LdapRefused as refused:
        raise mapped(refused, dn=step["dn"]) from None


def _send(conn: Any, step: Step) -> bool:
    dn, op = step["dn"], step["op"]
    if op == "delete":
        return bool(conn.delete(dn))
    if op == "add":
        return bool(conn.add(dn, attributes={k: _raw(v) for k, v in step["attributes"].items()}))
    if op == "modify":
        changes = {k: [(_OPS[o], _raw(v)) for o, v in c] for k, c in step["changes"].items()}
        return bool(conn.modify(dn, changes))
    if op == "move":
        return bool(conn.modify_dn(dn, step["rdn"], delete_old_dn=True, new_superior=step["superior"]))
    raise ValueError(f"unknown journal step '{op}'")


def _reanimate(connection: LdapConnection, step: Step) -> None:
    """AD keeps a few values on a tombstone, and refuses some of those in the modify that brings
    it back (e.g. userAccountControl): they are written in a second one.  Credentials are not
    kept by AD and do not come back."""
    dn, guid = step["dn"], step["guid"]
    conn = connection.run(
        f"the deleted {dn}",
        lambda c: c.search(
            f"<GUID={guid}>", "(objectClass=*)", BASE, attributes=["*"], controls=[_SHOW_DELETED]
        ),
    )
    found = [item for item in conn.response or () if item.get("type") == "searchResEntry"]
    if not found:
        raise NotFound(f"the deleted {dn} is no longer kept by the server", dn=dn)
    tombstone = found[0]["dn"]
    kept = {k.lower(): sorted(v) for k, v in found[0]["raw_attributes"].items()}
    changes: dict[str, list[tuple[Any, list[bytes]]]] = {
        "isDeleted": [(MODIFY_DELETE, [])],
        "distinguishedName": [(MODIFY_REPLACE, [dn.encode()])],
    }
    changed = {}
    for name, encoded in step["attributes"].items():
        value = _raw(encoded)
        if name.lower() not in kept:
            changes[name] = [(MODIFY_REPLACE, value)]
        elif kept[name.lower()] != sorted(value):
            changed[name] = [(MODIFY_REPLACE, value)]
    connection.run(dn, lambda c: c.modify(tombstone, changes, controls=[_SHOW_DELETED]))
    if changed:
        connection.run(dn, lambda c: c.modify(dn, changed))


class Intents(Protocol):
    """Where a backend records a write's inverse before it sends the write."""

    def record(self, step: Step) -> None: ...


class Commits(Protocol):
    """The decision record (``directory_commits``)."""

    def mark(self, connection: Callable[[], Any], request: str, forget: Sequence[str]) -> None: ...

    def committed(self, request: str) -> bool: ...

    def forget(self, requests: Sequence[str]) -> None: ...


class IntentLog:
    """One unit of work's log: created at its first record, held under an exclusive lock until
    the unit has ended, then removed (kept when a compensation failed)."""

    def __init__(self, folder: Path, request: str) -> None:
        self.request = request
        self._path = folder / f"{request}{SUFFIX}"
        self._fd: int | None = None
        self.used = False  # something was recorded

    def record(self, step: Step) -> None:
        """Append ``step``, on disk when this returns."""
        if self._fd is None:
            folder = self._path.parent
            if not folder.is_dir():
                folder.mkdir(mode=0o700, exist_ok=True)
                sync_folder(folder.parent)
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
            self.used = True
            os.write(fd, _line(step))
            os.fdatasync(fd)
            sync_folder(folder)  # the log's name, not only its bytes
            return
        os.write(self._fd, _line(step))
        os.fdatasync(self._fd)

    def end(self, clean: bool, *, durably: bool = False) -> None:
        """The unit has ended: remove the log unless what it holds may still need undoing
        (``durably``: the removal on disk when this returns)."""
        if self._fd is None:
            return
        if clean:
            self._path.unlink(missing_ok=True)
            if durably:
                sync_folder(self._path.parent)
        os.close(self._fd)  # releases the lock
        self._fd = None


def _line(step: Step) -> bytes:
    return (json.dumps(step, separators=(",", ":")) + "\n").encode()


def sync_folder(folder: Path) -> None:
    """Make the names in ``folder`` (files made or removed) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DurableJournal:
    """A deployment's intent logs (in ``folder``) and their commit marks."""

    def __init__(self, folder: Path, commits: Commits) -> None:
        self.folder = folder
        self._commits = commits
        self._lock = threading.Lock()
        self._finished: list[str] = []  # committed requests whose logs are gone: marks to drop

    def begin(
        self,
        before_commit: Callable[[Callable[[], None]], None],
        after_end: Callable[[Callable[[str], None]], None],
        connection: Callable[[], Any],
    ) -> IntentLog:
        """A log for one unit of work, tied to its end: its id is marked inside its transaction
        just before the commit (``before_commit``), and the log removed once it has ended
        (``after_end``) unless a compensating step failed."""
        intents = IntentLog(self.folder, str(uuid.uuid4()))
        dropped: list[str] = []  # the marks this unit's commit deletes

        def mark() -> None:
            if intents.used:
                with self._lock:
                    if len(self._finished) >= FORGET_BATCH:
                        dropped.extend(self._finished)
                        self._finished.clear()
                if dropped:  # their logs' removal on disk before their marks go
                    sync_folder(self.folder)
                self._commits.mark(connection, intents.request, dropped)

        def ended(ending: str) -> None:
            intents.end(clean=ending != "not compensated", durably=ending == "rolled back")
            with self._lock:
                if ending == "committed" and intents.used:
                    self._finished.append(intents.request)
                else:  # the deletes went with the transaction
                    self._finished.extend(dropped)

        before_commit(mark)
        after_end(ended)
        return intents

    def pending(self) -> list[Path]:
        """The logs present now (of live units of work too)."""
        return sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []

    def recover(self, connection: LdapConnection) -> list[Recovered]:
        """Settle every log whose process is gone (see the module's doc); what was done."""
        done = []
        for path in self.pending():
            with _abandoned(path) as lines:
                if lines is None:
                    continue
                request = path.name.removesuffix(SUFFIX)
                if self._commits.committed(request):
                    path.unlink(missing_ok=True)
                    sync_folder(self.folder)  # gone on disk before its mark is
                    self._commits.forget([request])
                    done.append(Recovered(request, committed=True, undone=0, failures=()))
                    continue
                failures = []
                undone = 0
                for step in reversed(_steps(lines)):
                    try:
                        apply(connection, step)
                        undone += 1
                    except (NotFound, AlreadyExists, ConstraintViolation):
                        pass  # undone already (by the unit of work, or a savepoint's rollback)
                    except ServiceBusy as exc:  # the server is away: the whole log again next time
                        failures.append(f"kept for the next recovery: {exc.description}")
                        break
                    except MpsError as exc:
                        failures.append(f"{step['op']} {step['dn']}: {exc.description}")
                else:
                    path.unlink(missing_ok=True)
                found = Recovered(request, committed=False, undone=undone, failures=tuple(failures))
                log.warning("directory journal: request %s did not commit: %s", request, found.summary)
                done.append(found)
        return done


@dataclass(frozen=True)
class Recovered:
    request: str
    committed: bool
    undone: int
    failures: tuple[str, ...]

    @property
    def summary(self) -> str:
        if self.committed:
            return "committed: nothing to undo"
        text = f"{self.undone} write(s) undone"
        return text + (f"; not undone: {'; '.join(self.failures)}" if self.failures else "")


@contextlib.contextmanager
def _abandoned(path: Path) -> Any:
    """The lines of the log at ``path`` while it is locked here, or None when a live process
    holds it or it was removed meanwhile."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        if os.fstat(fd).st_nlink == 0:  # its unit ended between the listing and the lock
            yield None
            return
        with os.fdopen(os.dup(fd), "rb") as stream:
            yield stream.read().decode("utf-8", errors="replace").splitlines()
    finally:
        os.close(fd)


def _steps(lines: Sequence[str]) -> list[Step]:
    """The recorded steps; a last line cut short by the crash was never sent (it is written first),
    and a step the server refused is followed by :data:`REFUSED`: its inverse would undo what the
    write did not do (a refused add's delete would remove the entry that stood there)."""
    steps: list[Step] = []
    for line in lines:
        try:
            step = json.loads(line)
        except json.JSONDecodeError:
            break
        if step.get("op") == REFUSED["op"]:
            if steps:
                steps.pop()
        else:
            steps.append(step)
    return steps
