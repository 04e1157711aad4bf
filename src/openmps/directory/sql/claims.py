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

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openmps.db.schema import directory_claims as claims
from openmps.types import DN


class SqlClaims:
    """The claims table on the connection ``connection()`` answers (the request's)."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    def claim(self, dn: DN, attr: str, values: Iterable[str]) -> str | None:
        """Claim ``values`` (normalized) of ``attr`` (lower-cased) for ``dn``: None when all are
        now its, else the first value another entry holds, and nothing claimed."""
        conn = self._connection()
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(claims)
        made: list[str] = []
        for value in values:
            row = {"attr": attr, "value": value, "dn": dn.norm}
            if conn.execute(insert.values(row).on_conflict_do_nothing()).rowcount == 1:
                made.append(value)
                continue
            holder = conn.execute(
                select(claims.c.dn).where(claims.c.attr == attr, claims.c.value == value)
            ).scalar_one_or_none()
            if holder != dn.norm:
                self.release(dn, attr, made)
                return value
        return None

    def release(self, dn: DN, attr: str, values: Iterable[str]) -> None:
        """Let go of ``values`` of ``attr`` that ``dn`` holds."""
        wanted = list(values)
        if wanted:
            self._connection().execute(
                delete(claims).where(
                    claims.c.attr == attr, claims.c.value.in_(wanted), claims.c.dn == dn.norm
                )
            )

    def release_all(self, dn: DN) -> None:
        """Let go of every value ``dn`` holds (the entry is deleted)."""
        self._connection().execute(delete(claims).where(claims.c.dn == dn.norm))

    def moved(self, dn: DN, new_dn: DN) -> None:
        """``dn``'s values are held by ``new_dn`` now."""
        self._connection().execute(update(claims).where(claims.c.dn == dn.norm).values(dn=new_dn.norm))
