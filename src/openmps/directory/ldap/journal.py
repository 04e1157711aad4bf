"""The LDAP writes of a request that may outlive its process: intent logs, and their recovery.

A request's SQL work and its LDAP writes end together in-process (the unit of work replays the
inverses on a rollback), but a process killed between its LDAP writes and its SQL commit leaves
writes nobody undoes.  So every write's inverse is also appended to the request's *intent log*, a
file in the deployment's home whose first line names the request, BEFORE the write is sent; the
request's SQL transaction records its id just before it commits (``directory_commits``,
:mod:`openmps.directory.sql.commits`).  A log found later belongs to a process that died (a live
one holds an exclusive ``flock`` on each of its files): if its request is recorded as committed the
log is only removed; otherwise its inverses are replayed in reverse (:func:`recover`), which the
next start of the deployment does, and a running server's sweep (it skips the logs of requests in
flight: their process holds the lock).  A rollback whose compensation failed keeps its log too.

A file, not a SQL table: on SQLite the request's transaction holds the only write lock, so a
record written beside it, in a transaction of its own, would wait for it.  Each record reaches the
disk (``fdatasync``) before the write it covers is sent, so it survives a power cut as well as a
dead process; but for a modify of an entry the same unit added, or one only adding such entries to
a group's ``member``, which the add's inverse undoes too (a recovery takes the entry out of its
groups, then deletes it): its record reaches the disk with the next one synced.  Making, naming and
removing a file costs far more than a record (about 10 ms against 2 here), so a process keeps its
files and each unit of work reuses one, written over from its start (not truncated: a sync that
changes no file size costs a fraction of one that does; each step line names its request, so what
an earlier request left after this one's lines is not read): its first record replaces the file's
header in the same sync, and only then is the mark of the request before it dropped (a committed
request's steps stay on disk until overwritten, its mark until then too); a rolled back request's
steps are cleared on disk at once (replayed later, they would undo what later requests wrote).
An operator may turn the syncs off (:class:`Disk`, ``OPENMPS_JOURNAL_FSYNC=off``): a dead process's
log is still settled, one a power cut or a kernel crash lost is not.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE

from openmps.directory.filters import eq, render
from openmps.directory.ldap.connection import (
    NO_SUCH_ATTRIBUTE,
    LdapConnection,
    LdapRefused,
    mapped,
    names_nothing,
)
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
HEADER = "request"  # a log's first line: the request whose steps follow
OF = "of"  # in each step's line: the request it is of (lines after a unit's are an earlier one's)


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(v).decode("ascii") for v in values]


def _raw(values: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def delete_step(dn: str, groups: str | None = None) -> Step:
    """Delete ``dn`` (an add's inverse); with ``groups``, a naming context: a recovery first takes
    ``dn`` out of the ``member`` values of its groups, which a join not yet synced may have given
    it (see the module's doc)."""
    return {"op": "delete", "dn": dn} if groups is None else {"op": "delete", "dn": dn, "groups": groups}


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


def password_step(dn: str, attribute: str) -> Step:
    """The nearest thing to an undo of a password sent (AD's unicodePwd: never shown, so never put
    back): a random one nobody knows, so that the password of a request that did not commit does
    not bind either.  Recorded before the send; the recovery's audit record names the account."""
    return {"op": "password", "dn": dn, "attribute": attribute}


def unknown_password() -> bytes:
    """A random password meeting AD's complexity rules, as unicodePwd takes it; never kept."""
    return f'"Aa1!{secrets.token_urlsafe(24)}"'.encode("utf-16-le")


def reanimate_step(dn: str, guid: str, attributes: Wire) -> Step:
    """AD's undelete of ``dn``: its tombstone (found by ``guid``) made the entry again, with the
    ``attributes`` a tombstone loses."""
    return {
        "op": "reanimate",
        "dn": dn,
        "guid": guid,
        "attributes": {k: _b64(v) for k, v in attributes.items()},
    }


def apply(connection: LdapConnection, step: Step, *, recovering: bool = False) -> None:
    """Send one step; the server's refusal as an :mod:`openmps.errors` error.  ``recovering``: the
    steps are a log's, which may lack the joins of an added entry (:func:`_leave_groups`)."""
    try:
        if step["op"] == "reanimate":
            _reanimate(connection, step)
            return
        if recovering and step["op"] == "delete" and step.get("groups"):
            _leave_groups(connection, step["dn"], step["groups"])
        connection.run(step["dn"], lambda c: _send(c, step))
    except LdapRefused as refused:
        raise mapped(refused, dn=step["dn"]) from None


def _leave_groups(connection: LdapConnection, dn: str, base: str) -> None:
    """Take ``dn`` out of every group under ``base`` naming it in ``member``, before it is deleted
    (a crash then leaves it to be deleted at the next recovery, its groups left already): the steps
    of the joins that gave it those values were not synced before they were sent, so a power cut
    may have lost them."""
    text = render(eq("member", dn))
    conn = connection.run(dn, lambda c: c.search(base, text, SUBTREE, attributes=["1.1"]))
    groups = [item["dn"] for item in conn.response or () if item.get("type") == "searchResEntry"]
    for group in groups:
        leave = {"member": [(MODIFY_DELETE, [dn])]}
        try:
            connection.run(group, functools.partial(_modify, group, leave))
        except LdapRefused as refused:
            if not (names_nothing(refused) or refused.code == NO_SUCH_ATTRIBUTE):
                raise  # else the group, or its value, went meanwhile


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
    if op == "password":
        return bool(conn.modify(dn, {step["attribute"]: [(MODIFY_REPLACE, [unknown_password()])]}))
    raise ValueError(f"unknown journal step '{op}'")


def _modify(dn: str, changes: Mapping[str, Any], conn: Any) -> bool:
    return bool(conn.modify(dn, changes))


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

    def record(self, step: Step, *, durable: bool = True) -> None:
        """``durable``: on disk before this returns (else with the next record that is)."""
        ...


class Commits(Protocol):
    """The decision record (``directory_commits``)."""

    def mark(self, connection: Callable[[], Any], request: str, forget: Sequence[str]) -> None: ...

    def committed(self, request: str) -> bool: ...

    def forget(self, requests: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Disk:
    """Whether the logs are synced to the disk before the writes they cover (``fsync``, the
    default) or left to the kernel's write-back, for operators who accept the risk as with
    PostgreSQL's ``fsync=off``: a killed process's log is still in the kernel's cache and settled,
    but a power cut or kernel crash may lose the log of LDAP writes nobody then undoes."""

    fsync: bool = True

    def data(self, fd: int) -> None:
        """The file's records durable (skipped with ``fsync`` off)."""
        if self.fsync:
            os.fdatasync(fd)

    def names(self, folder: Path) -> None:
        """The files made or removed in ``folder`` durable (skipped with ``fsync`` off)."""
        if self.fsync:
            sync_folder(folder)


SYNCED = Disk()


class LogFile:
    """A file of the journal's folder, under an exclusive lock while this process keeps it: made
    once (its name synced then), then used by one unit of work after another, so a request pays
    for no file made, named or removed, only for its steps."""

    def __init__(self, folder: Path, disk: Disk = SYNCED) -> None:
        if not folder.is_dir():
            folder.mkdir(mode=0o700, exist_ok=True)
            disk.names(folder.parent)
        self.path = folder / f"{uuid.uuid4()}{SUFFIX}"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        disk.names(folder)
        self.holds: str | None = None  # the committed request whose steps it still holds

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)  # releases the lock


class LogFiles:
    """A process's idle log files, and the committed requests whose steps were overwritten on disk
    by a later unit's (their marks are no longer needed)."""

    def __init__(self, folder: Path, disk: Disk = SYNCED) -> None:
        self._folder = folder
        self.disk = disk
        self._lock = threading.Lock()
        self._idle: list[LogFile] = []
        self._overwritten: list[str] = []

    def take(self) -> LogFile:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return LogFile(self._folder, self.disk)

    def put(self, file: LogFile) -> None:
        with self._lock:
            self._idle.append(file)

    def overwritten(self, requests: Sequence[str]) -> None:
        with self._lock:
            self._overwritten.extend(requests)

    def finished(self) -> list[str]:
        with self._lock:
            found, self._overwritten = self._overwritten, []
        return found

    def close(self) -> list[str]:
        """Remove the idle files (on disk when this returns); the requests whose marks may go."""
        with self._lock:
            idle, self._idle = self._idle, []
            held = [*self._overwritten, *(f.holds for f in idle if f.holds)]
            self._overwritten = []
        for file in idle:
            file.remove()
        if idle:
            self.disk.names(self._folder)
        return held


class IntentLog:
    """One unit of work's log: a file taken at its first record (from ``files``, else made for it),
    its first line the request's id; held under an exclusive lock until the unit has ended, then
    given back (removed without ``files``), or kept for a recovery when a compensation failed."""

    def __init__(self, folder: Path, request: str, files: LogFiles | None = None) -> None:
        self.request = request
        self._folder = folder
        self._files = files
        self._disk = files.disk if files is not None else SYNCED
        self._file: LogFile | None = None
        self._end = 0  # where its next record goes
        self.used = False  # something was recorded

    def record(self, step: Step, *, durable: bool = True) -> None:
        """Write ``step`` after the unit's records, on disk when this returns if ``durable`` (else
        with the next one that is: a file's sync flushes all it was written before).

        Over what the file held, not truncated first: a sync that changes no file size flushes
        the data alone, several times cheaper than one that must also commit the size (the
        truncation and each append did).  What follows the unit's records, the steps of the
        request before, is told apart by the request each line names (:func:`_read`)."""
        if self._file is None:
            file = self._files.take() if self._files is not None else LogFile(self._folder, self._disk)
            previous = file.holds
            # the request before's header replaced in the same sync: its steps are no longer read
            self._end = 0
            self._write(file, _line({"op": HEADER, "dn": "", "request": self.request}) + self._line(step))
            file.holds = None
            self._file = file
            self.used = True
            if previous is not None and self._files is not None:
                self._files.overwritten([previous])
            return
        self._write(self._file, self._line(step), sync=durable)

    def _line(self, step: Step) -> bytes:
        return _line({**step, OF: self.request})

    def _write(self, file: LogFile, data: bytes, *, sync: bool = True) -> None:
        os.pwrite(file.fd, data, self._end)
        if sync:
            self._disk.data(file.fd)
        self._end += len(data)

    def end(self, clean: bool, *, durably: bool = False) -> None:
        """The unit has ended: its steps need no undoing unless not ``clean``; ``durably``: they are
        gone on disk when this returns (a rolled back request's must never be replayed)."""
        file, self._file = self._file, None
        if file is None:
            return
        if not clean:  # for a recovery: out of use, its lock released
            os.close(file.fd)
            return
        if durably:
            os.ftruncate(file.fd, 0)
            self._disk.data(file.fd)
        else:
            file.holds = self.request
        if self._files is None:
            file.remove()
        else:
            self._files.put(file)


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
    """A deployment's intent logs (in ``folder``) and their commit marks, synced as ``disk`` says."""

    def __init__(self, folder: Path, commits: Commits, disk: Disk = SYNCED) -> None:
        self.folder = folder
        self._commits = commits
        self._files = LogFiles(folder, disk)

    def begin(
        self,
        before_commit: Callable[[Callable[[], None]], None],
        after_end: Callable[[Callable[[str], None]], None],
        connection: Callable[[], Any],
    ) -> IntentLog:
        """A log for one unit of work, tied to its end: its id is marked inside its transaction
        just before the commit (``before_commit``), and its file given back once it has ended
        (``after_end``) unless a compensating step failed."""
        intents = IntentLog(self.folder, str(uuid.uuid4()), self._files)
        dropped: list[str] = []  # the marks this unit's commit deletes

        def mark() -> None:
            if intents.used:
                dropped.extend(self._files.finished())
                self._commits.mark(connection, intents.request, dropped)

        def ended(ending: str) -> None:
            intents.end(clean=ending != "not compensated", durably=ending == "rolled back")
            if ending != "committed":  # the deletes went with the transaction
                self._files.overwritten(dropped)

        before_commit(mark)
        after_end(ended)
        return intents

    def close(self) -> None:
        """This process's idle log files removed, and the marks of the requests they held."""
        self._commits.forget(self._files.close())

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
                request, steps = _read(lines)
                if request is None:  # nothing recorded, or a rolled back request's steps cleared
                    path.unlink(missing_ok=True)
                    continue
                if self._commits.committed(request):
                    path.unlink(missing_ok=True)
                    self._files.disk.names(self.folder)  # gone on disk before its mark is
                    self._commits.forget([request])
                    done.append(Recovered(request, committed=True, undone=0, failures=()))
                    continue
                failures = []
                undone = 0
                passwords = []
                for step in reversed(steps):
                    try:
                        apply(connection, step, recovering=True)
                        undone += 1
                        if step["op"] == "password":
                            passwords.append(step["dn"])
                    except (NotFound, AlreadyExists, ConstraintViolation):
                        pass  # undone already (by the unit of work, or a savepoint's rollback)
                    except ServiceBusy as exc:  # the server is away: the whole log again next time
                        failures.append(f"kept for the next recovery: {exc.description}")
                        break
                    except MpsError as exc:
                        failures.append(f"{step['op']} {step['dn']}: {exc.description}")
                else:
                    path.unlink(missing_ok=True)
                found = Recovered(request, False, undone, tuple(failures), tuple(passwords))
                log.warning("directory journal: request %s did not commit: %s", request, found.summary)
                done.append(found)
        return done


@dataclass(frozen=True)
class Recovered:
    request: str
    committed: bool
    undone: int
    failures: tuple[str, ...]
    passwords: tuple[str, ...] = ()  # accounts whose password was sent, now reset to an unknown one

    @property
    def summary(self) -> str:
        if self.committed:
            return "committed: nothing to undo"
        text = f"{self.undone} write(s) undone"
        if self.passwords:
            text += f"; password(s) sent, now reset to unknown ones: {', '.join(self.passwords)}"
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


def _read(lines: Sequence[str]) -> tuple[str | None, list[Step]]:
    """The request of a log (its first line) and its recorded steps, up to the first line that is
    not one of them (a file is written over, not truncated: the lines of the request it held
    before follow, naming that one); a last line cut short by the
    crash was never sent (it is written first), and a step the server refused is followed by
    :data:`REFUSED`: its inverse would undo what the write did not do (a refused add's delete would
    remove the entry that stood there)."""
    request: str | None = None
    steps: list[Step] = []
    for line in lines:
        try:
            step = json.loads(line)
        except json.JSONDecodeError:
            break
        if not isinstance(step, dict) or (request is None) != (step.get("op") == HEADER):
            break  # a line cut short, or the rest of an earlier request's log the file was reused from
        if step.pop(OF, request) != request:
            break
        if step.get("op") == HEADER:
            request = step["request"]
        elif step.get("op") == REFUSED["op"]:
            if steps:
                steps.pop()
        else:
            steps.append(step)
    return request, steps
