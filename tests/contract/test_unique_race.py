"""Uniqueness under a race (SQL backend): OS processes adding the same userPrincipalName at once.

Each process opens its own engine on the same SQLite file and adds an entry in its own unit of
work; they start together (a barrier) and hold their transaction a moment before committing.
Exactly one commits; every other one gets ConstraintViolation (different DNs) or AlreadyExists
(the same DN), and the store ends with one holder.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openmps.db.store import SqlUnitOfWork, make_engine, sqlite_url
from openmps.directory.interface import Scope
from openmps.directory.sql.backend import SqlDirectory
from openmps.errors import MpsError
from openmps.types import DN

NC = DN.parse("DC=example,DC=com")
PEOPLE = DN.parse("OU=People,DC=example,DC=com")
UPNS = ["race@example.com", "RACE@example.com", "Race@Example.COM", "race@EXAMPLE.com"]
WORKERS = 4


def _worker(db: str, domain_sid: str, dn: str, upn: str, barrier: Any, results: Any) -> None:
    """Add one entry holding ``upn`` in its own transaction; report the outcome on ``results``."""
    engine = make_engine(sqlite_url(Path(db)))
    uow = SqlUnitOfWork(engine)
    directory = SqlDirectory(lambda: uow.connection, domain_sid=domain_sid)
    outcome: tuple[str, ...]
    try:
        barrier.wait(timeout=20)
        directory.add(DN.parse(dn), {"objectClass": ["top", "person", "user"], "userPrincipalName": [upn]})
        time.sleep(0.05)  # hold the transaction open: the others are trying meanwhile
        uow.commit()
        outcome = ("committed", dn)
    except MpsError as exc:
        uow.rollback()
        outcome = (type(exc).__name__, dn, exc.description)
    except BaseException as exc:  # anything else is a failure the parent must see
        uow.rollback()
        outcome = ("unexpected", dn, repr(exc))
    finally:
        engine.dispose()
    results.put(outcome)


def _setup(path: Path, domain_sid: str) -> None:
    engine = make_engine(sqlite_url(path))
    uow = SqlUnitOfWork(engine)
    try:
        directory = SqlDirectory(lambda: uow.connection, domain_sid=domain_sid)
        directory.add(NC, {"objectClass": ["top", "domain", "domainDNS"], "dc": ["example"]})
        directory.add(PEOPLE, {"objectClass": ["top", "organizationalUnit"], "ou": ["People"]})
        uow.commit()
    finally:
        engine.dispose()


def _holders(path: Path, domain_sid: str) -> tuple[list[DN], DN | None]:
    engine = make_engine(sqlite_url(path))
    uow = SqlUnitOfWork(engine, readonly=True)
    try:
        directory = SqlDirectory(lambda: uow.connection, domain_sid=domain_sid)
        users = [e.dn for e in directory.search(PEOPLE, Scope.ONELEVEL)]
        return users, directory.holder("userPrincipalName", "race@example.com")
    finally:
        uow.rollback()
        engine.dispose()


@pytest.mark.parametrize("same_dn", [False, True], ids=["distinct-dns", "same-dn"])
def test_one_of_concurrent_adds_of_a_upn_wins(
    tmp_path: Path, sql_store: Callable[[Path], str], same_dn: bool
) -> None:
    db = tmp_path / "race.sqlite"
    domain_sid = sql_store(db)
    _setup(db, domain_sid)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    targets = [str(PEOPLE.child("CN", "racer" if same_dn else f"racer{i}")) for i in range(WORKERS)]
    procs = [
        ctx.Process(target=_worker, args=(str(db), domain_sid, targets[i], UPNS[i], barrier, results))
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    results.close()
    results.join_thread()

    assert [p.exitcode for p in procs] == [0] * WORKERS
    committed = [o for o in outcomes if o[0] == "committed"]
    refused = [o for o in outcomes if o[0] != "committed"]
    assert len(committed) == 1, outcomes
    expected = "AlreadyExists" if same_dn else "ConstraintViolation"
    assert [o[0] for o in refused] == [expected] * (WORKERS - 1), outcomes
    winner = committed[0][1]
    for refusal in refused:  # the refusal does not reveal who holds the value
        assert "racer" not in refusal[2].casefold() or same_dn, refusal
    users, holder = _holders(db, domain_sid)
    assert users == [DN.parse(winner)]
    assert holder == DN.parse(winner)
