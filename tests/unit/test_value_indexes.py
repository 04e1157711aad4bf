"""The statements that look values up by value use the partial indexes made for them.

A partial index serves a statement only if the statement's WHERE holds the index's predicate
(db/schema.py), and SQLite re-prepares on every run a statement whose bound attribute name decides
it; these plans are what keeps a lookup at a few microseconds in a store of millions of values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from openmps.db.prepared import Prepared
from openmps.db.store import make_engine, migrate, sqlite_url
from openmps.directory.sql.statements import (
    P_MEMBER_OF,
    add_value_statement,
    find_many_statement,
    held_elsewhere_statement,
    holder_statement,
)

UNIQUE_INDEX = "uq_entry_values_unique_attrs"
MEMBERS_INDEX = "ix_entry_values_members"
ENTRY_INDEX = "ix_entry_values_entry"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    engine = make_engine(sqlite_url(tmp_path / "v.db"))
    migrate(engine)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def plan(conn: Connection, statement: Prepared) -> str:
    sql, order, *_ = statement._for(conn)
    args = [1 for _ in order or ()]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    return " | ".join(row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, args))


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        (holder_statement("samaccountname"), UNIQUE_INDEX),
        (holder_statement("userprincipalname"), UNIQUE_INDEX),
        (held_elsewhere_statement("proxyaddresses"), UNIQUE_INDEX),
        (P_MEMBER_OF, MEMBERS_INDEX),
        (add_value_statement("member"), ENTRY_INDEX),
        (find_many_statement(1, ("objectclass", "mail")), ENTRY_INDEX),
    ],
)
def test_lookups_by_value_use_their_index(conn: Connection, statement: Prepared, index: str) -> None:
    assert f"INDEX {index} " in plan(conn, statement)


def test_attribute_names_are_written_into_the_sql_unless_they_could_break_out(conn: Connection) -> None:
    sql, order, *_ = holder_statement("samaccountname")._for(conn)
    assert "'samaccountname'" in sql and order is not None and order[0] == "norm"  # no name parameter
    odd = holder_statement("x'); DROP TABLE entries; --")
    sql, order, *_ = odd._for(conn)
    assert "DROP" not in sql  # a bound parameter, not text
    assert odd.execute(conn, {"norm": "v"}).first() is None
