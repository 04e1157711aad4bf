"""The SQL statements of the embedded directory, built once (SQLAlchemy Core).

The ``P_`` ones run on the DBAPI cursor (``db/prepared.py``): they are the provisioning hot path.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    false,
    insert,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from openmps.db.prepared import Prepared
from openmps.db.schema import UNIQUE_VALUES, entries, entry_values, settings
from openmps.directory.interface import UNIQUE_ATTRIBUTES

COLUMN_ATTRS = {"objectguid": "objectGUID", "objectsid": "objectSid"}
MAX_IN = 500  # values per IN (...) list

# Values are found by value through partial indexes (db/schema.py); a statement uses one only if
# its own WHERE holds the index's predicate, word for word.
MEMBER: ColumnElement[str] = literal_column("'member'")  # entry_values.name == MEMBER: the members index
UNIQUE_VALUE = text(f"entry_values.{UNIQUE_VALUES}")  # the unique attributes' index

# (id, dn, object_guid, object_sid, attr, name, value): an entry's rows with its values
ENTRY_WITH_VALUES = (
    entries.c.id,
    entries.c.dn,
    entries.c.object_guid,
    entries.c.object_sid,
    entry_values.c.attr,
    entry_values.c.name,
    entry_values.c.value,
)

_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9;.-]*")  # attribute names and OIDs, lower-cased


def name_is(column: ColumnElement[str], key: str) -> ColumnElement[bool]:
    """``column == key`` with the attribute name written into the SQL.

    Because partial indexes test ``name``, SQLite re-prepares a statement that binds it on every
    execution (the bound value decides whether such an index applies): about 12 µs each time,
    a lookup's cost five times over.  A plain name (no quote can occur in it) is written as a
    literal, and its statement cached per name; anything else stays a bound parameter.
    """
    return column == _name(key)


def name_in(column: ColumnElement[str], keys: tuple[str, ...]) -> ColumnElement[bool]:
    """``column IN keys``, each written as :func:`name_is` writes it."""
    return column.in_([_name(k) for k in keys])


def _name(key: str) -> ColumnElement[Any]:
    if _PLAIN_NAME.fullmatch(key):
        return literal_column(f"'{key}'")
    return bindparam(None, key, type_=Text)


MEMBER_OF = (
    select(entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == MEMBER, entry_values.c.value_norm == bindparam("dn_norm"))
    .order_by(entries.c.id)
)


@functools.lru_cache(maxsize=256)
def holder_statement(key: str) -> Prepared:
    """The DN holding a value (parameter ``norm``) of ``key``: through the unique attributes'
    index for one of them, a scan for any other."""
    query = (
        select(entries.c.dn)
        .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
        .where(name_is(entry_values.c.name, key), entry_values.c.value_norm == bindparam("norm"))
        .limit(1)
    )
    return Prepared(query.where(UNIQUE_VALUE) if key in UNIQUE_ATTRIBUTES else query)


@functools.lru_cache(maxsize=64)
def find_holder_statement(key: str, names: tuple[str, ...]) -> Prepared:
    """The entry holding a value (parameter ``norm``) of the unique attribute ``key``, with its
    values of ``names``: one round trip through the unique attributes' index (a sign-in's read)."""
    holder = entry_values.alias("holder")
    return Prepared(
        select(*ENTRY_WITH_VALUES)
        .select_from(
            holder.join(entries, entries.c.id == holder.c.entry_id).outerjoin(
                entry_values,
                and_(entry_values.c.entry_id == entries.c.id, name_in(entry_values.c.name, names)),
            )
        )
        .where(
            text(f"holder.{UNIQUE_VALUES}"),
            name_is(holder.c.name, key),
            holder.c.value_norm == bindparam("norm"),
        )
        .order_by(entry_values.c.id)
    )


def _token_groups() -> Prepared:
    """The SIDs of every group an entry (parameter ``dn_norm``) belongs to, directly or through
    nested groups (AD's ``tokenGroups``): one recursive query over the members index; UNION keeps
    it finite when groups nest in a cycle."""
    member = entry_values.alias("member")
    group = entries.alias("grp")
    # the start row's NULL sid is typed as the column, or PostgreSQL refuses the recursive union
    start = select(
        bindparam("dn_norm", type_=Text).label("norm"), cast(null(), group.c.object_sid.type).label("sid")
    )
    up = start.cte("up", recursive=True)
    up = up.union(
        select(group.c.dn_norm, group.c.object_sid).select_from(
            up.join(member, and_(member.c.name == MEMBER, member.c.value_norm == up.c.norm)).join(
                group, group.c.id == member.c.entry_id
            )
        )
    )
    return Prepared(select(up.c.sid).where(up.c.sid.is_not(None), up.c.norm != bindparam("dn_norm")))


@functools.lru_cache(maxsize=256)
def held_elsewhere_statement(key: str) -> Prepared:
    """Whether another entry than ``entry_id`` holds ``norm`` in the unique attribute ``key``."""
    return Prepared(
        select(entry_values.c.id)
        .where(
            UNIQUE_VALUE,
            name_is(entry_values.c.name, key),
            entry_values.c.value_norm == bindparam("norm"),
            entry_values.c.entry_id != bindparam("entry_id"),
        )
        .limit(1)
    )


# reserves ``count`` RIDs; answers the last of them
NEXT_RIDS = (
    update(settings)
    .where(settings.c.name == "next_rid")
    .values(value=cast(cast(settings.c.value, Integer) + bindparam("count", type_=Integer), Text))
    .returning(settings.c.value)
)


ROW = select(entries.c.id, entries.c.tree_key).where(entries.c.dn_norm == bindparam("dn_norm"))
GROUPS_OF = (
    select(entry_values.c.value_norm, entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == MEMBER, entry_values.c.value_norm.in_(bindparam("norms", expanding=True)))
)
ENTRY_COLUMNS = ("dn", "dn_norm", "tree_key", "parent_id", "object_guid", "object_sid")
VALUE_COLUMNS = ("entry_id", "attr", "name", "value", "value_norm")
INSERT_ENTRY = insert(entries).values({c: bindparam(c) for c in ENTRY_COLUMNS}).returning(entries.c.id)


_existing = entry_values.alias("existing")


@functools.lru_cache(maxsize=256)
def add_value_statement(key: str) -> Prepared:
    """Insert one value of ``key`` unless the entry already has it: one statement."""
    return Prepared(
        insert(entry_values).from_select(
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
                    name_is(_existing.c.name, key),
                    _existing.c.value_norm == bindparam("value_norm", type_=Text),
                )
            ),
        )
    )


# The statements of the provisioning hot path, run on the DBAPI cursor (see db/prepared.py).
P_MEMBER_OF = Prepared(MEMBER_OF)
P_TOKEN_GROUPS = _token_groups()
P_NEXT_RIDS = Prepared(NEXT_RIDS)
P_ROW = Prepared(ROW)
P_INSERT_ENTRY = Prepared(INSERT_ENTRY)
P_DELETE_VALUES = Prepared(delete(entry_values).where(entry_values.c.entry_id == bindparam("entry_id")))
P_DELETE_ENTRY = Prepared(delete(entries).where(entries.c.id == bindparam("entry_id")))


VALUES_PER_INSERT = 100  # 500 parameters: within every SQLite's limit


@functools.lru_cache(maxsize=VALUES_PER_INSERT)
def value_keys(count: int) -> tuple[str, ...]:
    """The parameters of ``insert_values_statement(count)``, row by row in column order."""
    return tuple(f"{c}{i}" for i in range(count) for c in VALUE_COLUMNS)


@functools.lru_cache(maxsize=VALUES_PER_INSERT)
def insert_values_statement(count: int) -> Prepared:
    """Insert ``count`` value rows in one statement (parameters ``entry_id0``, ``attr0``…): one
    statement applies whole or not at all, and costs less than as many single-row inserts."""
    rows: list[dict[str, Any]] = [{c: bindparam(f"{c}{i}") for c in VALUE_COLUMNS} for i in range(count)]
    return Prepared(insert(entry_values).values(rows))


@functools.lru_cache(maxsize=256)
def delete_attributes_statement(keys: tuple[str, ...]) -> Prepared:
    """Delete the values of the attributes ``keys`` of one entry (parameter ``entry_id``)."""
    names = name_in(entry_values.c.name, keys)
    return Prepared(delete(entry_values).where(entry_values.c.entry_id == bindparam("entry_id"), names))


@functools.lru_cache(maxsize=64)
def find_many_statement(count: int, names: tuple[str, ...] | None) -> Prepared:
    """Entries (and their values, all or ``names``) for ``count`` DNs: a prepared statement per shape."""
    join = entry_values.c.entry_id == entries.c.id
    if names is not None:
        join = and_(join, name_in(entry_values.c.name, names) if names else false())
    return Prepared(
        select(*ENTRY_WITH_VALUES)
        .select_from(entries.outerjoin(entry_values, join))
        .where(entries.c.dn_norm.in_([bindparam(f"dn{i}") for i in range(count)]))
        .order_by(entries.c.id, entry_values.c.id)
    )


P_GET = find_many_statement(1, None)  # one entry with all its values; parameter ``dn0``
