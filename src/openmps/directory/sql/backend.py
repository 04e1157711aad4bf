"""The embedded directory backend: entries and their values in SQL tables.

Bound to one unit of work; every statement runs on its connection, so directory writes commit or
roll back with the request.  ``objectGUID`` and ``objectSid`` are columns of ``entries`` and
``memberOf`` is computed from ``member`` values (AD's back-link), so neither can drift.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    Connection,
    delete,
    exists,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from openmps.db.memo import TransactionMemo
from openmps.db.prepared import atomic, compensated
from openmps.db.schema import entries, entry_values
from openmps.directory import filters as f
from openmps.directory.interface import (
    DN_ATTRIBUTES,
    OPERATIONAL_ATTRIBUTES,
    UNIQUE_ATTRIBUTES,
    Change,
    ChangeOp,
    Entry,
    Scope,
    normalize_value,
)
from openmps.directory.sql.filter_sql import comparable_attributes, comparable_filter, compile_filter
from openmps.directory.sql.statements import (
    COLUMN_ATTRS,
    GROUPS_OF,
    MAX_IN,
    MEMBER,
    P_DELETE_ENTRY,
    P_DELETE_VALUES,
    P_GET,
    P_INSERT_ENTRY,
    P_MEMBER_OF,
    P_NEXT_RIDS,
    P_ROW,
    P_TOKEN_GROUPS,
    VALUES_PER_INSERT,
    add_value_statement,
    delete_attributes_statement,
    find_holder_statement,
    find_many_statement,
    held_elsewhere_statement,
    holder_statement,
    insert_values_statement,
    name_is,
    value_keys,
)
from openmps.errors import (
    AlreadyExists,
    ConstraintViolation,
    InvalidArgument,
    MpsError,
    NotEmpty,
    NotFound,
)
from openmps.types import DN, Secret, fold, new_guid

T = TypeVar("T")

RID_BLOCK_MAX = 64


class SqlDirectory:
    """A :class:`~openmps.directory.interface.Directory` on the SQL store."""

    def __init__(
        self,
        connection: Callable[[], Connection],
        *,
        domain_sid: str,
        rollbacks: Callable[[], int] | None = None,
    ) -> None:
        self._connection = connection
        self._domain_sid = domain_sid
        # dn_norm → (id, tree_key) of entries this transaction has met: a bulk request adds a
        # hundred users under one parent and into one group (see db/memo.py for when it forgets)
        self._rows: TransactionMemo[str, tuple[int, str]] = TransactionMemo(rollbacks, limit=65536)
        # dn_norm → every stored value of entries this transaction added or read whole, as
        # ``find_many`` answers (memberOf is not a stored value): a procedure that creates a user
        # hands it to others (CreateMailbox, AllocateMailbox) that read it again.  A modify forgets it.
        self._entries: TransactionMemo[str, Entry] = TransactionMemo(rollbacks)
        # (next RID, last RID, size) of the block this transaction reserved (see _next_rid)
        self._rid_pool: TransactionMemo[int, tuple[int, int, int]] = TransactionMemo(rollbacks)

    @property
    def _conn(self) -> Connection:
        return self._connection()

    # --- reads ------------------------------------------------------------------------------------

    def find(self, dn: DN) -> Entry | None:
        rows = P_GET.execute(self._conn, {"dn0": dn.norm}).all()
        if not rows:
            return None
        first = rows[0]
        values: dict[str, list[str]] = defaultdict(list)
        names: dict[str, str] = {}
        for row in rows:
            if row.name is not None:
                values[row.name].append(row.value)
                names.setdefault(row.name, row.attr)
        self._add_computed(values, names, first.object_guid, first.object_sid, dn.norm)
        return Entry(DN.parse(first.dn), {k: tuple(v) for k, v in values.items()}, names)

    def find_many(self, dns: Sequence[DN], *, attributes: Collection[str] | None = None) -> dict[DN, Entry]:
        names_wanted = None if attributes is None else tuple(sorted({a.lower() for a in attributes}))
        found: dict[DN, Entry] = {}
        unknown = []
        for dn in dns:
            known = self._entries.get(dn.norm)
            if known is None:
                unknown.append(dn)
            else:
                found[known.dn] = known if names_wanted is None else _only(known, names_wanted)
        if unknown:
            found.update(self._read_many(unknown, names_wanted))
        return found

    def _read_many(self, dns: Sequence[DN], names_wanted: tuple[str, ...] | None) -> dict[DN, Entry]:
        statement = find_many_statement(len(dns), names_wanted)  # one round trip for all of them
        params = {f"dn{i}": dn.norm for i, dn in enumerate(dns)}
        # plain tuples (id, dn, object_guid, object_sid, attr, name, value), ordered by entry: this runs
        # for every organization above every target of every request
        heads: dict[int, tuple[str, str, str]] = {}
        values: dict[int, dict[str, list[str]]] = defaultdict(dict)
        names: dict[int, dict[str, str]] = defaultdict(lambda: dict(COLUMN_ATTRS))
        for entry_id, dn_text, guid, sid, attr, name, value in statement.execute(self._conn, params).tuples():
            heads.setdefault(entry_id, (dn_text, guid, sid))
            if name is not None:
                values[entry_id].setdefault(name, []).append(value)
                names[entry_id].setdefault(name, attr)
        found = {}
        for entry_id, (dn_text, guid, sid) in heads.items():
            entry_dn = DN.parse(dn_text)
            found[entry_dn] = _entry(entry_dn, values[entry_id], names[entry_id], guid, sid)
            if names_wanted is None:
                self._entries.put(entry_dn.norm, found[entry_dn])
        return found

    def get(self, dn: DN) -> Entry:
        entry = self.find(dn)
        if entry is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        return entry

    def exists(self, dn: DN) -> bool:
        return self._row(dn) is not None

    def _row(self, dn: DN) -> tuple[int, str] | None:
        """(id, tree_key) of the entry at ``dn``, or None."""
        found = self._rows.get(dn.norm)
        if found is None:
            row = P_ROW.execute(self._conn, {"dn_norm": dn.norm}).first()
            if row is None:
                return None
            found = (row.id, row.tree_key)
            self._rows.put(dn.norm, found)
        return found

    def member_of(self, dn: DN) -> list[DN]:
        return [DN.parse(r.dn) for r in P_MEMBER_OF.execute(self._conn, {"dn_norm": dn.norm})]

    def holder(self, attr: str, value: str) -> DN | None:
        key = attr.lower()
        row = holder_statement(key).execute(self._conn, {"norm": normalize_value(key, value)}).first()
        return DN.parse(row.dn) if row else None

    def find_holder(self, attr: str, value: str, *, attributes: Collection[str]) -> Entry | None:
        key = attr.lower()
        names = tuple(sorted({a.lower() for a in attributes}))
        rows = find_holder_statement(key, names).execute(self._conn, {"norm": normalize_value(key, value)})
        head: tuple[str, str, str] | None = None
        values: dict[str, list[str]] = {}
        found_names: dict[str, str] = dict(COLUMN_ATTRS)
        for _id, dn_text, guid, sid, stored_attr, name, stored in rows.tuples():
            head = head or (dn_text, guid, sid)
            if name is not None:
                values.setdefault(name, []).append(stored)
                found_names.setdefault(name, stored_attr)
        if head is None:
            return None
        return _entry(DN.parse(head[0]), values, found_names, head[1], head[2])

    def token_groups(self, dn: DN) -> frozenset[str]:
        return frozenset(r[0] for r in P_TOKEN_GROUPS.execute(self._conn, {"dn_norm": dn.norm}).tuples())

    def set_password(self, dn: DN, password: Secret) -> None:
        """Nothing: the userPassword hash is the password here."""

    def search(
        self,
        base: DN,
        scope: Scope = Scope.SUBTREE,
        filter: f.Filter | None = None,
        *,
        limit: int | None = None,
    ) -> list[Entry]:
        base_row = self._row(base)
        if base_row is None:
            raise NotFound(f"no such object: {base.ldap_path}", dn=str(base))
        base_id, prefix = base_row
        query = select(entries.c.id, entries.c.dn, entries.c.object_guid, entries.c.object_sid)
        if scope is Scope.BASE:
            query = query.where(entries.c.id == base_id)
        elif scope is Scope.ONELEVEL:
            query = query.where(entries.c.parent_id == base_id)
        else:
            query = query.where(entries.c.tree_key >= prefix, entries.c.tree_key < prefix + "\uffff")
        exact = True
        if filter is not None:
            condition, exact = compile_filter(filter)
            query = query.where(condition)
        query = query.order_by(entries.c.tree_key)
        if limit is not None and exact:
            query = query.limit(limit)
        found = self._load(self._conn.execute(query).all())
        if not exact and filter is not None:
            wanted = comparable_filter(filter)
            found = [e for e in found if f.matches(wanted, comparable_attributes(e))]
            if limit is not None:
                found = found[:limit]
        return found

    def _load(self, rows: Sequence[Any]) -> list[Entry]:
        """Entries for rows of (id, dn, object_guid, object_sid), values fetched in batches."""
        values: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        names: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [r.id for r in rows]
        for chunk in _chunks(ids):
            for v in self._conn.execute(
                select(
                    entry_values.c.entry_id, entry_values.c.attr, entry_values.c.name, entry_values.c.value
                )
                .where(entry_values.c.entry_id.in_(chunk))
                .order_by(entry_values.c.id)
            ):
                values[v.entry_id][v.name].append(v.value)
                names[v.entry_id].setdefault(v.name, v.attr)
        norms = {r.id: DN.parse(r.dn).norm for r in rows}
        member_of: dict[str, list[str]] = defaultdict(list)
        for chunk in _chunks(list(norms.values())):
            for m in self._conn.execute(GROUPS_OF, {"norms": chunk}):
                member_of[m.value_norm].append(m.dn)
        result = []
        for r in rows:
            vals, nms = values[r.id], names[r.id]
            vals["objectguid"] = [r.object_guid]
            vals["objectsid"] = [r.object_sid]
            nms.update(COLUMN_ATTRS)
            groups = member_of.get(norms[r.id])
            if groups:
                vals["memberof"] = groups
                nms["memberof"] = "memberOf"
            result.append(Entry(DN.parse(r.dn), {k: tuple(v) for k, v in vals.items()}, nms))
        return result

    def _add_computed(
        self, values: dict[str, list[str]], names: dict[str, str], guid: str, sid: str, dn_norm: str
    ) -> None:
        values["objectguid"] = [guid]
        values["objectsid"] = [sid]
        names.update(COLUMN_ATTRS)
        groups = [r.dn for r in P_MEMBER_OF.execute(self._conn, {"dn_norm": dn_norm})]
        if groups:
            values["memberof"] = groups
            names["memberof"] = "memberOf"

    # --- writes -----------------------------------------------------------------------------------

    def add(self, dn: DN, attributes: Mapping[str, Iterable[str]]) -> Entry:
        if not dn:
            raise InvalidArgument("the root DN cannot be added")
        conn = self._conn
        attrs = {k: list(v) for k, v in attributes.items()}
        parent_id: int | None = None
        tree_key = dn.relative_key()
        parent = self._row(dn.parent) if len(dn) > 1 else None
        if parent is not None:
            parent_id, tree_key = parent[0], parent[1] + _key_part(dn)
        elif not _is_naming_context(attrs):
            # Only a naming context (a domain) may stand without a parent, as on an LDAP server.
            raise NotFound(
                f"the parent of {dn.ldap_path} does not exist", dn=str(dn.parent) if len(dn) > 1 else ""
            )
        given = _pop_single(attrs, "objectGUID")
        try:
            guid = str(uuid.UUID(given)) if given else new_guid()
        except ValueError:
            raise InvalidArgument(f"'{given}' is not a valid objectGUID", attr="objectGUID") from None
        given_sid = _pop_single(attrs, "objectSid")  # a column, like objectGUID: not a value row
        rows = _value_rows(attrs)
        # before the savepoint: a RID block it rolled back would stay remembered, and be drawn again
        sid = given_sid or f"{self._domain_sid}-{self._next_rid()}"
        with _refusals(), compensated(conn) as undo:  # the entry and its values, or nothing
            try:
                entry_id = P_INSERT_ENTRY.execute(
                    conn,
                    {
                        "dn": str(dn),
                        "dn_norm": dn.norm,
                        "tree_key": tree_key,
                        "parent_id": parent_id,
                        "object_guid": guid,
                        "object_sid": sid,
                    },
                ).scalar_one()
            except IntegrityError as exc:
                raise _Refused(lambda: self._entry_refused(dn)) from exc
            undo.append(lambda: self._discard(entry_id))  # a RID drawn stays drawn, as in AD
            self._insert_values(entry_id, rows)
        self._rows.put(dn.norm, (entry_id, tree_key))
        self._entries.put(dn.norm, _stored(dn, rows, guid, sid))
        # Only the identity comes back: callers that need the attributes re-read (keeps adds lean).
        return Entry(dn, {"objectguid": (guid,), "objectsid": (sid,)}, dict(COLUMN_ATTRS))

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        conn = self._conn
        known = self._entries.get(dn.norm)
        self._entries.forget(dn.norm)
        row = self._row(dn)
        if row is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        entry_id = row[0]
        if known is not None and _all_new(known, changes):
            # Stamping attributes an entry does not have yet (a new user's mailbox): nothing to
            # delete, one INSERT, which applies whole or not at all.
            rows = _value_rows({c.attr: list(c.values) for c in changes})
            with _refusals(), atomic(conn, one_write=len(rows) <= VALUES_PER_INSERT):
                self._insert_values(entry_id, rows)
            return
        # every change, or none; adding one value (a group member) is a single statement
        one_write = len(changes) == 1 and changes[0].op is ChangeOp.ADD and len(changes[0].values) == 1
        with _refusals(), atomic(conn, one_write=one_write):
            # A run of replaces is one delete and one insert: re-stamping a mailbox replaces a
            # dozen attributes at once.  An attribute replaced twice ends the run.
            run: dict[str, Change] = {}
            for change in changes:
                key = _modifiable(change)
                if key in run or change.op is not ChangeOp.REPLACE:
                    self._replace(entry_id, run)
                    run = {}
                if change.op is ChangeOp.REPLACE:
                    run[key] = change
                else:
                    self._apply(conn, dn, entry_id, change)
            self._replace(entry_id, run)

    def _replace(self, entry_id: int, changes: Mapping[str, Change]) -> None:
        if not changes:
            return
        delete_attributes_statement(tuple(changes)).execute(self._conn, {"entry_id": entry_id})
        self._insert_values(entry_id, _value_rows({c.attr: list(c.values) for c in changes.values()}))

    def _apply(self, conn: Connection, dn: DN, entry_id: int, change: Change) -> None:
        key = change.attr.lower()
        rows = _value_rows({change.attr: list(change.values)})
        if change.op is ChangeOp.DELETE and not rows:  # every value of the attribute
            self._replace(entry_id, {key: change})
        elif change.op is ChangeOp.DELETE:
            norms = [r.value_norm for r in rows]
            present = set(  # a set, read once: several values may be deleted at once
                conn.execute(
                    select(entry_values.c.value_norm).where(
                        entry_values.c.entry_id == entry_id,
                        name_is(entry_values.c.name, key),
                        entry_values.c.value_norm.in_(norms),
                    )
                ).scalars()
            )
            missing = [r.value for r in rows if r.value_norm not in present]
            if missing:
                raise ConstraintViolation(
                    f"cannot delete '{missing[0]}' from '{change.attr}': {dn.ldap_path} does not have it",
                    attr=change.attr,
                    value=missing[0],
                )
            conn.execute(
                delete(entry_values).where(
                    entry_values.c.entry_id == entry_id,
                    name_is(entry_values.c.name, key),
                    entry_values.c.value_norm.in_(norms),
                )
            )
        else:
            add_value = add_value_statement(key)
            for value_row in rows:
                try:  # one statement: insert unless the entry already has the value
                    added = add_value.execute(conn, {**value_row._asdict(), "entry_id": entry_id}).rowcount
                except IntegrityError as exc:
                    raise _unique_violation(value_row) from exc
                if added != 1:
                    raise AlreadyExists(
                        f"{dn.ldap_path} already has the value '{value_row.value}' in '{change.attr}'",
                        attr=change.attr,
                        value=value_row.value,
                    )

    def delete(self, dn: DN) -> None:
        conn = self._conn
        row = self._row(dn)
        if row is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        entry_id = row[0]
        if conn.execute(select(exists().where(entries.c.parent_id == entry_id))).scalar():
            raise NotEmpty(f"{dn.ldap_path} has children and cannot be deleted", dn=str(dn))
        self._rows.forget(dn.norm)
        self._entries.forget(dn.norm)
        conn.execute(
            delete(entry_values).where(entry_values.c.name == MEMBER, entry_values.c.value_norm == dn.norm)
        )
        self._discard(entry_id)

    def move(self, dn: DN, new_dn: DN) -> None:
        conn = self._conn
        self._rows.clear()  # every DN of the subtree changes
        self._entries.clear()
        row = conn.execute(
            select(entries.c.id, entries.c.tree_key).where(entries.c.dn_norm == dn.norm)
        ).first()
        if row is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        if self.exists(new_dn):
            raise AlreadyExists(f"the object {new_dn.ldap_path} already exists", dn=str(new_dn))
        if new_dn.is_within(dn, strict=True):
            raise InvalidArgument(f"cannot move {dn.ldap_path} below itself")
        parent = conn.execute(
            select(entries.c.id, entries.c.tree_key).where(entries.c.dn_norm == new_dn.parent.norm)
        ).first()
        if parent is None:
            raise NotFound(f"the parent of {new_dn.ldap_path} does not exist", dn=str(new_dn.parent))
        old_prefix = row.tree_key
        subtree = conn.execute(
            select(entries.c.id, entries.c.dn).where(
                entries.c.tree_key >= old_prefix, entries.c.tree_key < old_prefix + "\uffff"
            )
        ).all()
        depth = len(dn)
        for item in subtree:
            old = DN.parse(item.dn)
            moved = DN(old.rdns[: len(old) - depth] + new_dn.rdns)
            conn.execute(
                update(entries)
                .where(entries.c.id == item.id)
                .values(dn=str(moved), dn_norm=moved.norm, tree_key=moved.relative_key())
            )
            conn.execute(
                update(entry_values)
                .where(entry_values.c.name == MEMBER, entry_values.c.value_norm == old.norm)
                .values(value=str(moved), value_norm=moved.norm)
            )
        conn.execute(update(entries).where(entries.c.id == row.id).values(parent_id=parent.id))

    # --- helpers ----------------------------------------------------------------------------------

    def _discard(self, entry_id: int) -> None:
        """The entry's row and its values: gone."""
        P_DELETE_VALUES.execute(self._conn, {"entry_id": entry_id})
        P_DELETE_ENTRY.execute(self._conn, {"entry_id": entry_id})

    def _next_rid(self) -> int:
        """A RID for a new SID.  Like AD's RID pools, but per transaction: the counter is moved once
        for a block of RIDs, blocks doubling from 1 to 64, so a bulk request does not write it for
        every entry; the unused rest of a block is skipped, as AD skips a retired pool."""
        pool = self._rid_pool.get(0)
        if pool is None or pool[0] > pool[1]:
            size = 1 if pool is None else min(2 * pool[2], RID_BLOCK_MAX)
            last = int(P_NEXT_RIDS.execute(self._conn, {"count": size}).scalar_one())
            pool = (last - size + 1, last, size)
        self._rid_pool.put(0, (pool[0] + 1, pool[1], pool[2]))
        return pool[0]

    def _insert_values(self, entry_id: int, rows: list[ValueRow]) -> None:
        if not rows:
            return
        try:
            for chunk in _chunks(rows, VALUES_PER_INSERT):
                flat = [x for row in chunk for x in (entry_id, *row)]
                insert_values_statement(len(chunk)).execute_ordered(self._conn, value_keys(len(chunk)), flat)
        except IntegrityError as exc:
            raise _Refused(lambda: self._values_refused(entry_id, rows)) from exc

    def _entry_refused(self, dn: DN) -> MpsError:
        if self.exists(dn):
            return AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn))
        return ConstraintViolation(f"objectGUID or objectSid of {dn.ldap_path} is already used", dn=str(dn))

    def _values_refused(self, entry_id: int, rows: list[ValueRow]) -> ConstraintViolation:
        """Which unique value another entry holds (the refused rows are rolled back by now)."""
        taken = [r for r in rows if r.name in UNIQUE_ATTRIBUTES and self._held_elsewhere(r, entry_id)]
        return _unique_violation(taken[0] if taken else rows[0])

    def _held_elsewhere(self, row: ValueRow, entry_id: int) -> bool:
        params = {"norm": row.value_norm, "entry_id": entry_id}
        return held_elsewhere_statement(row.name).execute(self._conn, params).first() is not None


class _Refused(Exception):
    """A write the store refused (a constraint).  Which value or name was taken is looked up by
    :func:`_refusals`, once the operation's savepoint has rolled back: PostgreSQL answers no
    statement in a transaction whose statement failed."""

    def __init__(self, explain: Callable[[], MpsError]) -> None:
        super().__init__("refused by a constraint")
        self.explain = explain


@contextmanager
def _refusals() -> Iterator[None]:
    """Outside an operation's savepoint: a :class:`_Refused` write becomes the error that names it."""
    try:
        yield
    except _Refused as refused:
        raise refused.explain() from refused.__cause__


def _modifiable(change: Change) -> str:
    key = change.attr.lower()
    if key in OPERATIONAL_ATTRIBUTES or key in COLUMN_ATTRS:
        raise InvalidArgument(f"the attribute '{change.attr}' cannot be modified", attr=change.attr)
    return key


def _unique_violation(row: ValueRow) -> ConstraintViolation:
    # The holder stays out of the error: it may be another tenant's object.
    return ConstraintViolation(f"{row.attr} '{row.value}' is already in use", attr=row.attr, value=row.value)


def _is_naming_context(attrs: Mapping[str, Iterable[str]]) -> bool:
    classes = {v.lower() for k, vs in attrs.items() if k.lower() == "objectclass" for v in vs}
    return bool(classes & {"domain", "domaindns"})


def _pop_single(attrs: dict[str, list[str]], name: str) -> str | None:
    for key in list(attrs):
        if key.lower() == name.lower():
            values = attrs.pop(key)
            if len(values) != 1:
                raise InvalidArgument(f"'{name}' takes exactly one value")
            return values[0]
    return None


class ValueRow(NamedTuple):
    """One row of ``entry_values`` (its columns after ``entry_id``, in order)."""

    attr: str  # the attribute's name as first written
    name: str  # lower-cased
    value: str
    value_norm: str


# ValueRow from a tuple without NamedTuple's keyword-handling __new__: half the cost, for the
# two dozen rows of every mailbox user
_value_row: Callable[[tuple[str, str, str, str]], ValueRow] = functools.partial(tuple.__new__, ValueRow)


def _value_rows(attrs: Mapping[str, Iterable[str]]) -> list[ValueRow]:
    """Rows for ``entry_values``: one per distinct (attribute, normalized value), whatever spelling
    of the attribute name each value came under (LDAP attributes are sets, names case-insensitive)."""
    rows = []
    seen: set[tuple[str, str]] = set()
    spelling: dict[str, str] = {}
    for attr, values in attrs.items():
        key = attr.lower()
        if key in OPERATIONAL_ATTRIBUTES:
            raise InvalidArgument(f"the attribute '{attr}' is computed and cannot be written", attr=attr)
        written = spelling.setdefault(key, attr)
        dn_valued = key in DN_ATTRIBUTES
        for value in values:
            if not isinstance(value, str) or "\x00" in value:
                raise InvalidArgument(f"the value of '{attr}' must be text without NUL characters", attr=attr)
            norm = normalize_value(key, value) if dn_valued else fold(value)  # (inlined: hot)
            if (key, norm) in seen:
                continue
            seen.add((key, norm))
            rows.append(_value_row((written, key, value, norm)))
    return rows


_NOT_WRITABLE = OPERATIONAL_ATTRIBUTES | COLUMN_ATTRS.keys()


def _all_new(entry: Entry, changes: Sequence[Change]) -> bool:
    """Whether ``changes`` only replace distinct attributes that ``entry`` has no value of."""
    names = {c.attr.lower() for c in changes}
    return (
        len(names) == len(changes)
        and all(c.op is ChangeOp.REPLACE for c in changes)
        and not any(name in entry.attributes for name in names)
        and not names & _NOT_WRITABLE
    )


def _stored(dn: DN, rows: Sequence[ValueRow], guid: str, sid: str) -> Entry:
    """The entry as ``find_many`` reads it back after an add of ``rows``."""
    values: dict[str, list[str]] = {}
    names = dict(COLUMN_ATTRS)
    for row in rows:
        values.setdefault(row.name, []).append(row.value)
        names.setdefault(row.name, row.attr)
    return _entry(dn, values, names, guid, sid)


def _entry(dn: DN, values: Mapping[str, list[str]], names: dict[str, str], guid: str, sid: str) -> Entry:
    """An entry from its stored values (by lower-cased name) and its identity columns."""
    attrs = {k: tuple(v) for k, v in values.items()}
    attrs["objectguid"], attrs["objectsid"] = (guid,), (sid,)
    return Entry(dn, attrs, names)


def _only(entry: Entry, names: Collection[str]) -> Entry:
    """``entry`` with the values of ``names`` (lower-cased) and its identity only."""
    keep = {*names, *COLUMN_ATTRS}
    return Entry(
        entry.dn,
        {k: v for k, v in entry.attributes.items() if k in keep},
        {k: v for k, v in entry.names.items() if k in keep},
    )


def _key_part(dn: DN) -> str:
    """The leaf RDN's share of ``tree_key`` (``DN.relative_key`` minus the parent's)."""
    return dn.relative_key()[len(dn.parent.relative_key()) :] if len(dn) > 1 else dn.relative_key()


def _chunks(items: Sequence[T], size: int = MAX_IN) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
