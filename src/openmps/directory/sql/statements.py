"""The SQL statements of the embedded directory, built once (SQLAlchemy Core).

The ``P_`` ones run on the DBAPI cursor (``db/prepared.py``): they are the provisioning hot path.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Integer, Text, and_, bindparam, cast, delete, exists, false, insert, select, update

from openmps.db.prepared import Prepared
from openmps.db.schema import entries, entry_values, settings

COLUMN_ATTRS = {"objectguid": "objectGUID", "objectsid": "objectSid"}
MAX_IN = 500  # values per IN (...) list

MEMBER_OF = (
    select(entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == "member", entry_values.c.value_norm == bindparam("dn_norm"))
    .order_by(entries.c.id)
)
HOLDER = (
    select(entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == bindparam("name"), entry_values.c.value_norm == bindparam("norm"))
    .limit(1)
)
NEXT_RID = (
    update(settings)
    .where(settings.c.name == "next_rid")
    .values(value=cast(cast(settings.c.value, Integer) + 1, Text))
    .returning(settings.c.value)
)


ROW = select(entries.c.id, entries.c.tree_key).where(entries.c.dn_norm == bindparam("dn_norm"))
VALUES_OF = (
    select(entry_values.c.entry_id, entry_values.c.attr, entry_values.c.name, entry_values.c.value)
    .where(entry_values.c.entry_id.in_(bindparam("ids", expanding=True)))
    .order_by(entry_values.c.id)
)
GROUPS_OF = (
    select(entry_values.c.value_norm, entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == "member", entry_values.c.value_norm.in_(bindparam("norms", expanding=True)))
)
ENTRY_COLUMNS = ("dn", "dn_norm", "tree_key", "parent_id", "object_guid", "object_sid")
VALUE_COLUMNS = ("entry_id", "attr", "name", "value", "value_norm")
INSERT_ENTRY = insert(entries).values({c: bindparam(c) for c in ENTRY_COLUMNS}).returning(entries.c.id)


_existing = entry_values.alias("existing")
ADD_VALUE = insert(entry_values).from_select(
    ["entry_id", "attr", "name", "value", "value_norm"],
    select(
        bindparam("entry_id", type_=Integer),
        bindparam("attr", type_=Text),
        bindparam("name", type_=Text),
        bindparam("value", type_=Text),
        bindparam("value_norm", type_=Text),
    ).where(
        ~exists().where(
            _existing.c.entry_id == bindparam("entry_id", type_=Integer),
            _existing.c.name == bindparam("name", type_=Text),
            _existing.c.value_norm == bindparam("value_norm", type_=Text),
        )
    ),
)


# The statements of the provisioning hot path, run on the DBAPI cursor (see db/prepared.py).
P_MEMBER_OF = Prepared(MEMBER_OF)
P_HOLDER = Prepared(HOLDER)
P_HELD_ELSEWHERE = Prepared(
    select(entry_values.c.id)
    .where(
        entry_values.c.name == bindparam("name"),
        entry_values.c.value_norm == bindparam("norm"),
        entry_values.c.entry_id != bindparam("entry_id"),
    )
    .limit(1)
)
P_NEXT_RID = Prepared(NEXT_RID)
P_ROW = Prepared(ROW)
P_INSERT_ENTRY = Prepared(INSERT_ENTRY)
P_ADD_VALUE = Prepared(ADD_VALUE)


VALUES_PER_INSERT = 100  # 500 parameters: within every SQLite's limit


@functools.lru_cache(maxsize=VALUES_PER_INSERT)
def insert_values_statement(count: int) -> Prepared:
    """Insert ``count`` value rows in one statement (parameters ``entry_id0``, ``attr0``…): one
    statement applies whole or not at all, and costs less than as many single-row inserts."""
    rows: list[dict[str, Any]] = [{c: bindparam(f"{c}{i}") for c in VALUE_COLUMNS} for i in range(count)]
    return Prepared(insert(entry_values).values(rows))


@functools.cache
def delete_attributes_statement(count: int) -> Prepared:
    """Delete the values of ``count`` attributes (parameters ``entry_id``, ``name0``…) of one entry."""
    names = entry_values.c.name.in_([bindparam(f"name{i}", type_=Text) for i in range(count)])
    return Prepared(delete(entry_values).where(entry_values.c.entry_id == bindparam("entry_id"), names))


@functools.lru_cache(maxsize=64)
def find_many_statement(count: int, names: tuple[str, ...] | None) -> Prepared:
    """Entries (and their values, all or ``names``) for ``count`` DNs: a prepared statement per shape."""
    join = entry_values.c.entry_id == entries.c.id
    if names is not None:
        wanted: list[Any] = [bindparam(f"a{i}", n) for i, n in enumerate(names)]
        join = and_(join, entry_values.c.name.in_(wanted) if wanted else false())
    return Prepared(
        select(
            entries.c.id,
            entries.c.dn,
            entries.c.object_guid,
            entries.c.object_sid,
            entry_values.c.attr,
            entry_values.c.name,
            entry_values.c.value,
        )
        .select_from(entries.outerjoin(entry_values, join))
        .where(entries.c.dn_norm.in_([bindparam(f"dn{i}") for i in range(count)]))
        .order_by(entries.c.id, entry_values.c.id)
    )


P_GET = find_many_statement(1, None)  # one entry with all its values; parameter ``dn0``
