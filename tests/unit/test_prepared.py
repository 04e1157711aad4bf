"""Prepared statements on the DBAPI cursor: parameters by name, or in the order the driver takes."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, insert, select

from openmps.db.prepared import Prepared
from openmps.db.store import make_engine
from openmps.directory.sql.statements import insert_values_statement, value_keys

metadata = MetaData()
pairs = Table("pairs", metadata, Column("a", Integer), Column("b", Text))
INSERT = Prepared(insert(pairs).values(a=bindparam("a"), b=bindparam("b")))
ALL = Prepared(select(pairs.c.a, pairs.c.b).order_by(pairs.c.a))


def test_ordered_arguments_bind_like_named_ones_in_any_order() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        metadata.create_all(conn)
        INSERT.execute_ordered(conn, ("a", "b"), [1, "one"])  # the driver's own order
        INSERT.execute_ordered(conn, ("b", "a"), ["two", 2])  # another order: mapped by name
        INSERT.execute(conn, {"a": 3, "b": "three"})
        assert [tuple(r) for r in ALL.execute(conn).all()] == [(1, "one"), (2, "two"), (3, "three")]


def test_a_multi_row_value_insert_takes_its_keys_in_the_drivers_order() -> None:
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        for count in (1, 7, 100):
            assert insert_values_statement(count)._for(conn)[1] == value_keys(count)
