"""The LDAP backend inside a SQL unit of work (OpenLDAP): a rollback undoes the directory writes
with the SQL ones, a failed savepoint (``<try>``) only its own part, a commit keeps them; a
connection the server dropped is opened again.  The intent log is on disk before each write it
covers, and a recovery that cannot reach the server keeps it."""

from __future__ import annotations

import itertools
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.directory.interface import Change, Scope
from openmps.directory.ldap import journal
from openmps.directory.ldap.backend import LdapDirectory
from openmps.directory.ldap.connection import LdapConnection, LdapSettings
from openmps.directory.ldap.journal import DurableJournal, IntentLog, Step
from openmps.directory.sql.claims import SqlClaims
from openmps.errors import AlreadyExists, ConstraintViolation
from openmps.types import DN
from support import DirectoryServer

NC = DN.parse("DC=example,DC=com")
DOMAIN_SID = "S-1-5-21-7-8-9"
RIDS = itertools.count(5000)


@pytest.fixture
def connection(openldap_server: DirectoryServer) -> Iterator[LdapConnection]:
    conn = LdapConnection(
        LdapSettings(openldap_server.url, openldap_server.bind_dn, openldap_server.password)
    )
    yield conn
    conn.close()


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[SqlUnitOfWork]:
    engine = store(tmp_path / "store.sqlite")
    unit = SqlUnitOfWork(engine)
    yield unit
    engine.dispose()


class StepsSeen:
    """The intent log of these tests: the steps recorded (the durable log has tests of its own)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def record(self, step: Step, *, durable: bool = True) -> None:
        json.dumps(step)  # what the durable log writes
        self.steps.append(step)


def store(path: Path) -> Engine:
    """A migrated SQLite store (the LDAP backend claims unique values in it)."""
    engine = make_engine(sqlite_url(path))
    migrate(engine)
    return engine


def directory(connection: LdapConnection, uow: SqlUnitOfWork) -> LdapDirectory:
    return LdapDirectory(
        connection,
        root=NC,
        domain_sid=DOMAIN_SID,
        next_rid=lambda: next(RIDS),
        on_rollback=uow.on_rollback,
        claims=SqlClaims(lambda: uow.connection),
        intents=StepsSeen(),
        before_commit=uow.before_commit,
    )


@pytest.fixture
def org(connection: LdapConnection, tmp_path: Path) -> Iterator[DN]:
    """A committed OU of the test's own under the naming context (made if missing, and then
    removed at the end: the smoke tests of test_openldap_server.py make it themselves)."""
    engine = store(tmp_path / "setup.sqlite")
    setup = SqlUnitOfWork(engine)
    d = directory(connection, setup)
    made_nc = not d.exists(NC)
    if made_nc:
        d.add(NC, {"objectClass": ["top", "domain", "domainDNS"], "dc": ["example"]})
    where = DN.parse(f"OU=journal{next(RIDS)},{NC}")
    d.add(where, {"objectClass": ["top", "organizationalUnit"], "ou": [where.rdn_value]})
    setup.commit()
    yield where
    undo = SqlUnitOfWork(engine)
    d = directory(connection, undo)
    for entry in reversed(d.search(where)):
        d.delete(entry.dn)
    if made_nc:
        d.delete(NC)
    undo.commit()
    engine.dispose()


def user(d: LdapDirectory, where: DN, name: str) -> DN:
    dn = DN.parse(f"CN={name},{where}")
    d.add(dn, {"objectClass": ["top", "person", "user"], "cn": [name], "description": ["before"]})
    return dn


def test_a_rollback_undoes_every_write_in_reverse(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN
) -> None:
    d = directory(connection, uow)
    kept = user(d, org, "kept")
    uow.commit()  # the unit begins again at its next use
    added = user(d, org, "added")
    group = DN.parse(f"CN=g,{org}")
    d.add(group, {"objectClass": ["top", "group"], "cn": ["g"], "member": [str(added), str(kept)]})
    d.modify(kept, [Change.replace("description", "after")])
    d.move(added, DN.parse(f"CN=renamed,{org}"))
    d.delete(group)
    d.delete(kept)
    uow.rollback()
    assert [e.dn for e in d.search(org, Scope.ONELEVEL)] == [kept]
    assert d.get(kept).get("description") == ("before",)


def test_a_failed_savepoint_undoes_only_its_part(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN
) -> None:
    d = directory(connection, uow)
    first = user(d, org, "first")
    with pytest.raises(AlreadyExists), uow.savepoint():
        user(d, org, "second")
        d.modify(first, [Change.replace("description", "inside")])
        user(d, org, "first")  # refused: the refused add must not undo the entry that exists
    assert d.exists(first) and d.get(first).get("description") == ("before",)
    assert not d.exists(DN.parse(f"CN=second,{org}"))
    uow.commit()
    assert d.exists(first)


def test_a_dropped_connection_is_opened_again(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN
) -> None:
    d = directory(connection, uow)
    assert d.exists(org)
    connection._conn.socket.close()  # the server (or a firewall) dropped it
    assert d.exists(org)
    connection._conn.socket.close()  # a write (its BER sent by wire.py) is sent again too
    made = user(d, org, "redialed")
    connection._conn.socket.close()
    d.modify(made, [Change.replace("description", "after")])
    assert directory(connection, uow).get(made).get("description") == ("after",)  # read afresh
    uow.rollback()
    assert not directory(connection, uow).exists(made)


def test_members_removed_and_added_without_reading_the_group_come_back_on_a_rollback(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN
) -> None:
    """A member deleted by its DN is sent without reading the group's members (a big group's are
    never all read); its undo adds it back, and a DN the group does not hold is refused by name."""
    d = directory(connection, uow)
    one, two, three = (user(d, org, name) for name in ("one", "two", "three"))
    group = DN.parse(f"CN=g,{org}")
    d.add(group, {"objectClass": ["top", "group"], "cn": ["g"], "member": [str(one), str(two)]})
    uow.commit()
    d = directory(connection, uow)  # a new unit: nothing of the group remembered
    d.modify(group, [Change.delete("member", str(one)), Change.add("member", str(three))])
    assert {DN.parse(m) for m in d.get(group).get("member")} == {two, three}
    with pytest.raises(ConstraintViolation) as refused:
        d.modify(group, [Change.delete("member", str(one))])
    assert str(one).casefold() in refused.value.description.casefold()
    uow.rollback()
    assert {DN.parse(m) for m in directory(connection, uow).get(group).get("member")} == {one, two}


class NeverCommitted:
    """The commit marks of a store where no request committed."""

    def mark(self, connection: object, request: str, forget: object) -> None: ...

    def committed(self, request: str) -> bool:
        return False

    def forget(self, requests: object) -> None: ...


def test_a_write_the_server_refused_is_not_undone_by_the_recovery(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN, tmp_path: Path
) -> None:
    """A process dies after the server refused its add of an entry that exists: the next start
    replays the log without the refused add's inverse, which would delete that entry."""
    first = user(directory(connection, uow), org, "first")
    uow.commit()
    log = IntentLog(tmp_path / "journal", "died")
    d = LdapDirectory(
        connection,
        root=NC,
        domain_sid=DOMAIN_SID,
        next_rid=lambda: next(RIDS),
        on_rollback=lambda undo, label: None,  # it dies: only its log undoes
        claims=SqlClaims(lambda: uow.connection),
        intents=log,
        before_commit=lambda work: None,
    )
    second = user(d, org, "second")
    with pytest.raises(AlreadyExists):
        user(d, org, "first")
    log.end(clean=False)  # the process died: its log stays
    (found,) = DurableJournal(tmp_path / "journal", NeverCommitted()).recover(connection)
    assert (found.committed, found.undone, found.failures) == (False, 1, ())  # the second add only
    uow.rollback()
    after = directory(connection, uow)  # not the dead process's memory of what it added
    assert after.exists(first) and not after.exists(second)


def test_each_step_is_on_disk_before_the_write_it_covers_is_sent(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's name (its folder synced, when the file is made) and each step (fdatasync) reach the
    disk before the server is sent the write the step undoes: a power cut cannot leave a write
    unlogged; but for a modify of an entry the request added, which the add's inverse undoes too
    (its step reaches the disk with the next one).  A rolled back request's steps are cleared on
    disk (they must never be replayed)."""
    seen: list[str] = []
    datasync, folder_sync, run = os.fdatasync, journal.sync_folder, connection.run
    monkeypatch.setattr(journal.os, "fdatasync", lambda fd: (seen.append("step"), datasync(fd))[1])
    monkeypatch.setattr(
        journal, "sync_folder", lambda f: (seen.append(f"folder {f.name}"), folder_sync(f))[1]
    )
    monkeypatch.setattr(connection, "run", lambda what, op: (seen.append("sent"), run(what, op))[1])
    log = IntentLog(tmp_path / "journal", "synced")
    d = directory(connection, uow)
    d._intents = log  # the durable log in place of the steps seen
    user(d, org, "synced")
    assert seen[-2:] == ["step", "sent"], seen
    assert seen.index("folder journal") < seen.index("step"), seen
    d.modify(org, [Change.replace("description", "after")])  # its prior value read first
    assert seen[-2:] == ["step", "sent"], seen
    seen.clear()
    d.modify(DN.parse(f"CN=synced,{org}"), [Change.replace("description", "after")])
    assert seen == ["sent"], seen  # the user was added by this request: no sync first
    d.modify(org, [Change.replace("description", "again")])
    assert seen[-2:] == ["step", "sent"], seen  # which syncs the step before too
    log.end(clean=True, durably=True)
    assert seen[-1] == "step"
    uow.rollback()


def test_a_join_of_an_added_entry_is_sent_unsynced_and_undone_by_a_recovery_that_lost_its_step(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's new entry joins a group: the join's step is not synced before it is sent, as
    the add's inverse, on disk first, takes the entry out of every group at a recovery before it
    deletes it; so a power cut that loses the join's step leaves no member naming a deleted entry."""
    d = directory(connection, uow)
    group = DN.parse(f"CN=joined,{org}")
    d.add(group, {"objectClass": ["top", "group"], "cn": ["joined"]})
    uow.commit()
    folder = tmp_path / "journal"
    on_disk: list[bytes] = []  # the log as each sync left it
    datasync = os.fdatasync

    def synced(fd: int) -> None:
        datasync(fd)
        on_disk.append(b"".join(path.read_bytes() for path in folder.glob("*.log")))

    monkeypatch.setattr(journal.os, "fdatasync", synced)
    log = IntentLog(folder, "died")
    d = dying(connection, uow, log)
    made = user(d, org, "joiner")
    d.modify(group, [Change.add("member", str(made))])
    assert len(on_disk) == 1  # the add's step; the join's is written, not synced
    d.modify(made, [Change.replace("description", "after")])  # of the entry added: nor this one
    assert len(on_disk) == 1
    log.end(clean=False)  # the process died before its commit
    (path,) = folder.glob("*.log")
    path.write_bytes(on_disk[-1])  # and the power was cut: what was not synced is lost
    (found,) = DurableJournal(folder, NeverCommitted()).recover(connection)
    assert (found.request, found.undone, found.failures) == ("died", 1, ())
    uow.rollback()
    after = directory(connection, uow)
    assert not after.exists(made)
    assert after.get(group).get("member") == ()


def test_a_log_is_kept_while_the_server_is_away_and_settled_once_it_answers(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN, tmp_path: Path
) -> None:
    """A recovery that cannot reach the server keeps the log whole for the next one (a start, or a
    running server's sweep), instead of dropping writes nobody has undone."""
    log = IntentLog(tmp_path / "journal", "away")
    d = dying(connection, uow, log)
    made = user(d, org, "away")
    log.end(clean=False)  # the process died before its commit
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    nowhere = LdapConnection(LdapSettings(f"ldap://127.0.0.1:{closed}", "cn=nobody", "x"))
    recovery = DurableJournal(tmp_path / "journal", NeverCommitted())
    try:
        (first,) = recovery.recover(nowhere)
    finally:
        nowhere.close()
    assert first.undone == 0 and "kept for the next recovery" in first.summary, first
    assert len(recovery.pending()) == 1
    (second,) = recovery.recover(connection)
    assert (second.request, second.undone, second.failures) == ("away", 1, ())
    assert recovery.pending() == []
    uow.rollback()
    assert not directory(connection, uow).exists(made)


def dying(connection: LdapConnection, uow: SqlUnitOfWork, log: IntentLog) -> LdapDirectory:
    """A directory whose process dies before its commit: only its intent log undoes."""
    return LdapDirectory(
        connection,
        root=NC,
        domain_sid=DOMAIN_SID,
        next_rid=lambda: next(RIDS),
        on_rollback=lambda undo, label: None,
        claims=SqlClaims(lambda: uow.connection),
        intents=log,
        before_commit=lambda work: None,
    )


def test_a_reused_log_file_is_read_for_its_last_request_only(
    connection: LdapConnection, uow: SqlUnitOfWork, org: DN, tmp_path: Path
) -> None:
    """A file is written over by the next request, not truncated: a request that recorded less
    than the one before leaves that one's later steps behind its own, which no recovery replays
    (they would delete the users a committed request made)."""
    files = journal.LogFiles(tmp_path / "journal")
    before = IntentLog(tmp_path / "journal", "committed", files)
    made = [user(dying(connection, uow, before), org, f"kept{i}-{'x' * 200}") for i in range(3)]
    before.end(clean=True)  # committed: its file goes back to the process, its steps still in it
    log = IntentLog(tmp_path / "journal", "died", files)
    died = user(dying(connection, uow, log), org, "died")
    log.end(clean=False)
    (found,) = DurableJournal(tmp_path / "journal", NeverCommitted()).recover(connection)
    assert (found.request, found.undone, found.failures) == ("died", 1, ())
    uow.rollback()
    after = directory(connection, uow)
    assert not after.exists(died) and all(after.exists(dn) for dn in made)
    # where the request's records end just where one of the earlier request's lines began, that
    # whole line is not read either: each names its request
    lines = [
        json.dumps({"op": journal.HEADER, "dn": "", "request": "died"}),
        json.dumps({"op": "delete", "dn": "CN=died", journal.OF: "died"}),
        json.dumps({"op": "delete", "dn": "CN=kept", journal.OF: "committed"}),
    ]
    assert journal._read(lines) == ("died", [{"op": "delete", "dn": "CN=died"}])
