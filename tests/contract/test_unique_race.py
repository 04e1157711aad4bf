"""Uniqueness under a race, on every backend: OS processes adding the same unique value at once.

Each of eight processes opens its own store (and, on OpenLDAP, its own connection to the server)
and adds an entry in its own unit of work; they start together (a barrier) and hold their unit of
work a moment before committing.  Exactly one commits; every other one gets ConstraintViolation
(different DNs) or AlreadyExists (the same DN), and the directory ends with one holder: on
OpenLDAP and on the Samba AD DC, one entry on the server holding the value.  The four unique
attributes each race.  slapo-unique alone lets two adds of one value through about once in forty
such races (its check is not atomic with the write), and AD does not check proxy or SIP addresses
at all (shown below): the LDAP backend's claims in SQL make it hold.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ldap3 import SUBTREE

from openmps.db.store import SqlUnitOfWork, make_engine, sqlite_url
from openmps.directory import filters as f
from openmps.directory.interface import Directory, Scope
from openmps.directory.ldap.backend import LdapDirectory
from openmps.directory.ldap.connection import LdapConnection, LdapRefused, LdapSettings
from openmps.directory.ldap.journal import IntentLog
from openmps.directory.ldap.servers import OPENLDAP, SAMBA
from openmps.directory.sql.backend import SqlDirectory
from openmps.directory.sql.claims import SqlClaims
from openmps.errors import MpsError
from openmps.types import DN
from support import DirectoryServer

NC = DN.parse("DC=example,DC=com")
PEOPLE = DN.parse("OU=People,DC=example,DC=com")
WORKERS = 8
# attribute → the value the racers write, each in another case (the directory folds them alike)
VALUES = {
    "userPrincipalName": "race@example.com",
    "sAMAccountName": "racer",
    "proxyAddresses": "smtp:race@example.com",
    "msRTCSIP-PrimaryUserAddress": "sip:race@example.com",
}


def variant(value: str, i: int) -> str:
    """``value`` with the case of its letters flipped by the bits of ``i``."""
    letters = [n for n, c in enumerate(value) if c.isalpha()]
    chars = list(value)
    for bit, n in enumerate(letters[:8]):
        if i >> bit & 1:
            chars[n] = chars[n].upper()
    return "".join(chars)


# Where a race runs: ("sql", store) or ("openldap" | "samba", store, url, bind DN, password file,
# CA file); every process builds its backend from it (a spawned process gets plain values).
Where = tuple[str, ...]


@contextmanager
def opened(
    where: Where, next_rid: Callable[[], int] = lambda: 0
) -> Iterator[tuple[SqlUnitOfWork, Directory]]:
    """A unit of work on the race's store and the directory bound to it; closed at the end."""
    engine = make_engine(sqlite_url(Path(where[1])))
    uow = SqlUnitOfWork(engine)
    connection: LdapConnection | None = None
    intents = IntentLog(Path(where[1]).parent, str(uuid.uuid4()))
    directory: Directory
    if where[0] == "sql":
        directory = SqlDirectory(lambda: uow.connection, domain_sid=DOMAIN_SID)
    else:
        connection = _connection(where)
        directory = LdapDirectory(
            connection,
            root=NC,
            domain_sid=DOMAIN_SID,
            next_rid=next_rid,
            on_rollback=uow.on_rollback,
            claims=SqlClaims(lambda: uow.connection),
            intents=intents,
            before_commit=uow.before_commit,
            flavour=SAMBA if where[0] == "samba" else OPENLDAP,
        )
    try:
        yield uow, directory
    finally:
        uow.rollback()  # nothing left after a commit
        if connection is not None:
            connection.close()
        engine.dispose()
        intents.end(clean=True)


DOMAIN_SID = "S-1-5-21-1111111111-2222222222-3333333333"


def _worker(where: Where, worker: int, dn: str, attr: str, value: str, barrier: Any) -> tuple[str, ...]:
    """Add one entry holding ``value`` in its own unit of work; the outcome."""
    rids = iter(range(2000 + 10 * worker, 2010 + 10 * worker))
    try:
        with opened(where, lambda: next(rids)) as (uow, directory):
            barrier.wait()
            try:
                directory.add(DN.parse(dn), {"objectClass": ["top", "person", "user"], attr: [value]})
                time.sleep(0.05)  # hold the unit of work open: the others are trying meanwhile
                uow.commit()
                return ("committed", dn)
            except MpsError as exc:
                return (type(exc).__name__, dn, exc.description)
    except BaseException as exc:  # anything else is a failure the parent must see
        return ("unexpected", dn, repr(exc))


@pytest.fixture(scope="module")
def racers() -> Iterator[tuple[Any, Any]]:
    """Eight processes and a barrier, spawned once for every race of the module."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(WORKERS) as pool:
        yield pool, manager.Barrier(WORKERS, timeout=60)


def _connection(where: Where) -> LdapConnection:
    url, bind_dn, password_file, ca_file = where[2:]
    password = Path(password_file).read_text()
    return LdapConnection(LdapSettings(url, bind_dn, password, ca_file=ca_file or None))


@pytest.fixture(params=["sql", "openldap", "samba"])
def where(
    request: pytest.FixtureRequest, tmp_path: Path, sql_store: Callable[[Path], str]
) -> Iterator[Where]:
    """A store with the naming context and OU=People, on the embedded backend, on OpenLDAP or on
    the Samba AD DC (whose domain root the backend takes over)."""
    db = tmp_path / "race.sqlite"
    sql_store(db)
    made: Where = ("sql", str(db))
    if request.param != "sql":
        server: DirectoryServer = request.getfixturevalue(f"{request.param}_{SERVERS[request.param]}")
        ca_file = str(server.ca_file or "")
        made = (request.param, str(db), server.url, server.bind_dn, str(server.password_file), ca_file)
        _wipe(made)
    rids = iter(range(1000, 1010))
    with opened(made, lambda: next(rids)) as (uow, directory):
        directory.add(NC, {"objectClass": ["top", "domain", "domainDNS"], "dc": ["example"]})
        directory.add(PEOPLE, {"objectClass": ["top", "organizationalUnit"], "ou": ["People"]})
        uow.commit()
    yield made
    if request.param != "sql":
        _wipe(made)


SERVERS = {"openldap": "server", "samba": "dc"}  # the session's fixture of each kind


def _wipe(where: Where) -> None:
    from contract.conftest import wipe  # the contract suite's: the server is shared with it

    connection = _connection(where)
    try:
        wipe(connection, NC, SAMBA if where[0] == "samba" else OPENLDAP)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("attr", "same_dn"),
    [*((attr, False) for attr in VALUES), ("userPrincipalName", True)],
    ids=[*(f"{attr}-distinct-dns" for attr in VALUES), "userPrincipalName-same-dn"],
)
def test_one_of_concurrent_adds_of_a_unique_value_wins(
    where: Where, racers: tuple[Any, Any], attr: str, same_dn: bool
) -> None:
    pool, barrier = racers
    targets = [str(PEOPLE.child("CN", "racer" if same_dn else f"racer{i}")) for i in range(WORKERS)]
    outcomes: list[tuple[str, ...]] = pool.starmap(
        _worker, [(where, i, targets[i], attr, variant(VALUES[attr], i), barrier) for i in range(WORKERS)]
    )
    committed = [o for o in outcomes if o[0] == "committed"]
    refused = [o for o in outcomes if o[0] != "committed"]
    assert len(committed) == 1, outcomes
    expected = "AlreadyExists" if same_dn else "ConstraintViolation"
    assert [o[0] for o in refused] == [expected] * (WORKERS - 1), outcomes
    winner = DN.parse(committed[0][1])
    for refusal in refused:  # the refusal does not reveal who holds the value
        assert "racer" not in refusal[2].casefold() or same_dn or attr == "sAMAccountName", refusal
    with opened(where) as (_uow, directory):
        users = [e.dn for e in directory.search(PEOPLE, Scope.ONELEVEL)]
        holders = directory.search(NC, Scope.SUBTREE, f.eq(attr, VALUES[attr]))
    assert users == [winner]  # every loser's entry is gone (undone, on the server)
    assert [e.dn for e in holders] == [winner]


def test_ad_itself_lets_two_entries_hold_one_proxy_or_sip_address(samba_dc: DirectoryServer) -> None:
    """What the claims are for on AD: the DC takes two users of one proxy address, or of one SIP
    address, written past the backend (a sAMAccountName or UPN taken it would refuse)."""
    where = ("samba", "", samba_dc.url, samba_dc.bind_dn, str(samba_dc.password_file), str(samba_dc.ca_file))
    connection = _connection(where)
    users = [f"CN=twin{i},CN=Users,{NC}" for i in range(2)]
    try:
        for attr, value in (
            ("proxyAddresses", "smtp:twin@example.com"),
            ("msRTCSIP-PrimaryUserAddress", "sip:twin@example.com"),
        ):
            for dn in users:
                made = {"objectClass": ["user"], attr: [value]}
                connection.run(dn, lambda c, dn=dn, made=made: c.add(dn, attributes=made))
            text = f"({attr}={value})"
            found = connection.run("the twins", lambda c, text=text: c.search(str(NC), text, SUBTREE))
            held = [e["dn"].lower() for e in found.response if e["type"] == "searchResEntry"]
            assert sorted(held) == [u.lower() for u in users], (attr, held)
            for dn in users:
                connection.run(dn, lambda c, dn=dn: c.delete(dn))
    finally:
        for dn in users:
            with contextlib.suppress(LdapRefused):  # deleted already
                connection.run(dn, lambda c, dn=dn: c.delete(dn))
        connection.close()
