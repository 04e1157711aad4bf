"""Unique values claimed in SQL for a directory on an LDAP server (``directory_claims``).

A server's uniqueness check is not atomic with its write: slapo-unique searches, then lets the add
through, so two requests adding the same value at once may both succeed (seen in about one race
of forty with eight writers).  The LDAP backend claims each unique value in the request's own SQL
transaction before it writes it, and the table's primary key decides: on PostgreSQL a second
claim of a value waits for the first transaction and fails once it commits; SQLite has one writer
at a time.  A claim commits or rolls back with the request, as its LDAP writes are kept or undone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import BindParameter, Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openmps.db.prepared import Prepared
from openmps.db.schema import directory_claims as table
from openmps.directory.interface import UNIQUE_ATTRIBUTES, Entry, normalize_value
from openmps.types import DN

# A claim is a request's every add of a unique value: run on the DBAPI cursor (``db/prepared.py``)
_ROW: dict[str, BindParameter[str]] = {
    "attr": bindparam("attr"),
    "value": bindparam("value"),
    "dn": bindparam("dn"),
}
_CLAIM = {
    "sqlite": Prepared(sqlite.insert(table).values(_ROW).on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql.insert(table).values(_ROW).on_conflict_do_nothing()),
}
_HOLDER = Prepared(
    select(table.c.dn).where(table.c.attr == bindparam("attr"), table.c.value == bindparam("value"))
)


class SqlClaims:
    """The claims table on the connection ``connection()`` answers (the request's)."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self.connection = connection

    def claim(self, dn: DN, attr: str, values: Iterable[str]) -> str | None:
        """Claim ``values`` (normalized) of ``attr`` (lower-cased) for ``dn``: None when all are
        now its, else the first value another entry holds, and nothing claimed."""
        conn = self.connection()
        insert = _CLAIM["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
        made: list[str] = []
        for value in values:
            row = {"attr": attr, "value": value, "dn": dn.norm}
            if insert.execute(conn, row).rowcount == 1:
                made.append(value)
                continue
            holder = _HOLDER.execute(conn, row).first()
            if holder is None or holder.dn != dn.norm:
                self.release(dn, attr, made)
                return value
        return None

    def release(self, dn: DN, attr: str, values: Iterable[str]) -> None:
        """Let go of ``values`` of ``attr`` that ``dn`` holds."""
        wanted = list(values)
        if wanted:
            self.connection().execute(
                delete(table).where(table.c.attr == attr, table.c.value.in_(wanted), table.c.dn == dn.norm)
            )

    def release_all(self, dn: DN) -> None:
        """Let go of every value ``dn`` holds (the entry is deleted)."""
        self.connection().execute(delete(table).where(table.c.dn == dn.norm))

    def moved(self, dn: DN, new_dn: DN) -> None:
        """``dn``'s values are held by ``new_dn`` now."""
        self.connection().execute(update(table).where(table.c.dn == dn.norm).values(dn=new_dn.norm))


@dataclass(frozen=True)
class ClaimDrift:
    """A claim the directory does not bear out: ``kind`` is "claim-without-holder" (no entry holds
    the value, or another one does), "value-not-claimed" (written behind OpenMPS's back) or
    "value-held-twice" (the server holds a duplicate: a person decides which entry keeps it)."""

    kind: str
    attr: str
    value: str
    dn: str


def reconcile(claims: SqlClaims, entries: Iterable[Entry], *, repair: bool) -> list[ClaimDrift]:
    """The claims against the unique values ``entries`` (every holder in the directory) hold; with
    ``repair`` the claims are made to follow the directory, but for values held twice."""
    held: dict[tuple[str, str], DN] = {}
    twice: list[ClaimDrift] = []
    for entry in entries:
        for attr in sorted(UNIQUE_ATTRIBUTES):
            for value in entry.get(attr):
                key = (attr, normalize_value(attr, value))
                if key in held and held[key] != entry.dn:
                    twice.append(ClaimDrift("value-held-twice", attr, value, str(entry.dn)))
                held.setdefault(key, entry.dn)
    conn = claims.connection
    rows = {(a, v): dn for a, v, dn in conn().execute(select(table.c.attr, table.c.value, table.c.dn))}
    drift = list(twice)
    for (attr, value), dn in rows.items():
        holder = held.get((attr, value))
        if holder is None or holder.norm != dn:
            drift.append(ClaimDrift("claim-without-holder", attr, value, dn))
            if repair:
                claims.release(DN.parse(dn), attr, [value])
    for (attr, value), holder in held.items():
        if rows.get((attr, value)) != holder.norm:
            drift.append(ClaimDrift("value-not-claimed", attr, value, str(holder)))
            if repair:
                claims.claim(holder, attr, [value])
    return drift
