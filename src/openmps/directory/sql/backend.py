"""The embedded directory backend: entries and their values in SQL tables.

Bound to one unit of work; every statement runs on its connection, so directory writes commit or
roll back with the request.  ``objectGUID`` and ``objectSid`` are columns of ``entries`` and
``memberOf`` is computed from ``member`` values (AD's back-link), so neither can drift.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from sqlalchemy import (
    Connection,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from openmps.db.prepared import Prepared, atomic
from openmps.db.schema import entries, entry_values, settings
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
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, NotEmpty, NotFound
from openmps.types import DN

_COLUMN_ATTRS = {"objectguid": "objectGUID", "objectsid": "objectSid"}
_MAX_IN = 500  # values per IN (...) list

_GET = (
    select(
        entries.c.id,
        entries.c.dn,
        entries.c.object_guid,
        entries.c.object_sid,
        entry_values.c.attr,
        entry_values.c.name,
        entry_values.c.value,
    )
    .select_from(entries.outerjoin(entry_values, entry_values.c.entry_id == entries.c.id))
    .where(entries.c.dn_norm == bindparam("dn_norm"))
    .order_by(entry_values.c.id)
)
_ID = select(entries.c.id).where(entries.c.dn_norm == bindparam("dn_norm"))
_MEMBER_OF = (
    select(entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == "member", entry_values.c.value_norm == bindparam("dn_norm"))
    .order_by(entries.c.id)
)
_HOLDER = (
    select(entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == bindparam("name"), entry_values.c.value_norm == bindparam("norm"))
    .limit(1)
)
_NEXT_RID = (
    update(settings)
    .where(settings.c.name == "next_rid")
    .values(value=cast(cast(settings.c.value, Integer) + 1, Text))
    .returning(settings.c.value)
)


_ROW = select(entries.c.id, entries.c.tree_key).where(entries.c.dn_norm == bindparam("dn_norm"))
_ROWS_BY_NORM = select(entries.c.id, entries.c.dn, entries.c.object_guid, entries.c.object_sid).where(
    entries.c.dn_norm.in_(bindparam("norms", expanding=True))
)
_VALUES_OF = (
    select(entry_values.c.entry_id, entry_values.c.attr, entry_values.c.name, entry_values.c.value)
    .where(entry_values.c.entry_id.in_(bindparam("ids", expanding=True)))
    .order_by(entry_values.c.id)
)
_GROUPS_OF = (
    select(entry_values.c.value_norm, entries.c.dn)
    .select_from(entry_values.join(entries, entries.c.id == entry_values.c.entry_id))
    .where(entry_values.c.name == "member", entry_values.c.value_norm.in_(bindparam("norms", expanding=True)))
)
_ENTRY_COLUMNS = ("dn", "dn_norm", "tree_key", "parent_id", "object_guid", "object_sid")
_VALUE_COLUMNS = ("entry_id", "attr", "name", "value", "value_norm")
_INSERT_ENTRY = insert(entries).values({c: bindparam(c) for c in _ENTRY_COLUMNS}).returning(entries.c.id)


_INSERT_VALUES = insert(entry_values).values({c: bindparam(c) for c in _VALUE_COLUMNS})
_existing = entry_values.alias("existing")
_ADD_VALUE = insert(entry_values).from_select(
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
_P_GET = Prepared(_GET)
_P_ID = Prepared(_ID)
_P_MEMBER_OF = Prepared(_MEMBER_OF)
_P_HOLDER = Prepared(_HOLDER)
_P_HELD_ELSEWHERE = Prepared(
    select(entry_values.c.id)
    .where(
        entry_values.c.name == bindparam("name"),
        entry_values.c.value_norm == bindparam("norm"),
        entry_values.c.entry_id != bindparam("entry_id"),
    )
    .limit(1)
)
_P_NEXT_RID = Prepared(_NEXT_RID)
_P_ROW = Prepared(_ROW)
_P_INSERT_ENTRY = Prepared(_INSERT_ENTRY)
_P_INSERT_VALUES = Prepared(_INSERT_VALUES)
_P_ADD_VALUE = Prepared(_ADD_VALUE)


@functools.lru_cache(maxsize=64)
def _find_many_statement(count: int, names: tuple[str, ...] | None) -> Prepared:
    """Entries (and their values, all or ``names``) for ``count`` DNs: a prepared statement per shape."""
    join = entry_values.c.entry_id == entries.c.id
    if names is not None:
        wanted = [bindparam(f"a{i}", n) for i, n in enumerate(names)]
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


class SqlDirectory:
    """A :class:`~openmps.directory.interface.Directory` on the SQL store."""

    def __init__(self, connection: Callable[[], Connection], *, domain_sid: str) -> None:
        self._connection = connection
        self._domain_sid = domain_sid

    @property
    def _conn(self) -> Connection:
        return self._connection()

    # --- reads ------------------------------------------------------------------------------------

    def find(self, dn: DN) -> Entry | None:
        rows = _P_GET.execute(self._conn, {"dn_norm": dn.norm}).all()
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
        if not dns:
            return {}
        names_wanted = None if attributes is None else tuple(sorted({a.lower() for a in attributes}))
        statement = _find_many_statement(len(dns), names_wanted)  # one round trip for all of them
        params = {f"dn{i}": dn.norm for i, dn in enumerate(dns)}
        # plain tuples (id, dn, object_guid, object_sid, attr, name, value), ordered by entry: this runs
        # for every organization above every target of every request
        heads: dict[int, tuple[str, str, str]] = {}
        values: dict[int, dict[str, list[str]]] = defaultdict(dict)
        names: dict[int, dict[str, str]] = defaultdict(lambda: dict(_COLUMN_ATTRS))
        for entry_id, dn_text, guid, sid, attr, name, value in statement.execute(self._conn, params).tuples():
            heads.setdefault(entry_id, (dn_text, guid, sid))
            if name is not None:
                values[entry_id].setdefault(name, []).append(value)
                names[entry_id].setdefault(name, attr)
        found = {}
        for entry_id, (dn_text, guid, sid) in heads.items():
            attrs = {k: tuple(v) for k, v in values[entry_id].items()}
            attrs["objectguid"], attrs["objectsid"] = (guid,), (sid,)
            entry_dn = DN.parse(dn_text)
            found[entry_dn] = Entry(entry_dn, attrs, names[entry_id])
        return found

    def get(self, dn: DN) -> Entry:
        entry = self.find(dn)
        if entry is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        return entry

    def exists(self, dn: DN) -> bool:
        return _P_ID.execute(self._conn, {"dn_norm": dn.norm}).first() is not None

    def member_of(self, dn: DN) -> list[DN]:
        return [DN.parse(r.dn) for r in _P_MEMBER_OF.execute(self._conn, {"dn_norm": dn.norm})]

    def holder(self, attr: str, value: str) -> DN | None:
        key = attr.lower()
        row = _P_HOLDER.execute(self._conn, {"name": key, "norm": normalize_value(key, value)}).first()
        return DN.parse(row.dn) if row else None

    def search(
        self,
        base: DN,
        scope: Scope = Scope.SUBTREE,
        filter: f.Filter | None = None,
        *,
        limit: int | None = None,
    ) -> list[Entry]:
        base_row = _P_ROW.execute(self._conn, {"dn_norm": base.norm}).first()
        if base_row is None:
            raise NotFound(f"no such object: {base.ldap_path}", dn=str(base))
        query = select(entries.c.id, entries.c.dn, entries.c.object_guid, entries.c.object_sid)
        if scope is Scope.BASE:
            query = query.where(entries.c.id == base_row.id)
        elif scope is Scope.ONELEVEL:
            query = query.where(entries.c.parent_id == base_row.id)
        else:
            prefix = base_row.tree_key
            query = query.where(entries.c.tree_key >= prefix, entries.c.tree_key < prefix + "\uffff")
        exact = True
        if filter is not None:
            condition, exact = _compile(filter)
            query = query.where(condition)
        query = query.order_by(entries.c.tree_key)
        if limit is not None and exact:
            query = query.limit(limit)
        found = self._load(self._conn.execute(query).all())
        if not exact and filter is not None:
            wanted = _comparable_filter(filter)
            found = [e for e in found if f.matches(wanted, _comparable_attributes(e))]
            if limit is not None:
                found = found[:limit]
        return found

    def _load(self, rows: Sequence[object]) -> list[Entry]:
        """Entries for rows of (id, dn, object_guid, object_sid), values fetched in batches."""
        values: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        names: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [r.id for r in rows]  # type: ignore[attr-defined]
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
        norms = {r.id: DN.parse(r.dn).norm for r in rows}  # type: ignore[attr-defined]
        member_of: dict[str, list[str]] = defaultdict(list)
        for chunk in _chunks(list(norms.values())):
            for m in self._conn.execute(_GROUPS_OF, {"norms": chunk}):
                member_of[m.value_norm].append(m.dn)
        result = []
        for r in rows:
            vals, nms = values[r.id], names[r.id]  # type: ignore[attr-defined]
            vals["objectguid"] = [r.object_guid]  # type: ignore[attr-defined]
            vals["objectsid"] = [r.object_sid]  # type: ignore[attr-defined]
            nms.update(_COLUMN_ATTRS)
            groups = member_of.get(norms[r.id])  # type: ignore[attr-defined]
            if groups:
                vals["memberof"] = groups
                nms["memberof"] = "memberOf"
            result.append(Entry(DN.parse(r.dn), {k: tuple(v) for k, v in vals.items()}, nms))  # type: ignore[attr-defined]
        return result

    def _add_computed(
        self, values: dict[str, list[str]], names: dict[str, str], guid: str, sid: str, dn_norm: str
    ) -> None:
        values["objectguid"] = [guid]
        values["objectsid"] = [sid]
        names.update(_COLUMN_ATTRS)
        groups = [r.dn for r in _P_MEMBER_OF.execute(self._conn, {"dn_norm": dn_norm})]
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
        parent = None
        if len(dn) > 1:
            parent = _P_ROW.execute(conn, {"dn_norm": dn.parent.norm}).first()
        if parent is not None:
            parent_id, tree_key = parent.id, parent.tree_key + _key_part(dn)
        elif not _is_naming_context(attrs):
            # Only a naming context (a domain) may stand without a parent, as on an LDAP server.
            raise NotFound(
                f"the parent of {dn.ldap_path} does not exist", dn=str(dn.parent) if len(dn) > 1 else ""
            )
        guid = _pop_single(attrs, "objectGUID") or str(uuid.uuid4())
        try:
            guid = str(uuid.UUID(guid))
        except ValueError:
            raise InvalidArgument(f"'{guid}' is not a valid objectGUID", attr="objectGUID") from None
        rows = _value_rows(attrs)
        with atomic(conn):  # the entry and its values, or nothing
            sid = _pop_single(attrs, "objectSid") or f"{self._domain_sid}-{self._next_rid()}"
            try:
                entry_id = _P_INSERT_ENTRY.execute(
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
                if self.exists(dn):
                    raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn)) from exc
                raise ConstraintViolation(
                    f"objectGUID or objectSid of {dn.ldap_path} is already used", dn=str(dn)
                ) from exc
            self._insert_values(entry_id, rows)
        # Only the identity comes back: callers that need the attributes re-read (keeps adds lean).
        return Entry(dn, {"objectguid": (guid,), "objectsid": (sid,)}, dict(_COLUMN_ATTRS))

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        conn = self._conn
        row = _P_ID.execute(conn, {"dn_norm": dn.norm}).first()
        if row is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        with atomic(conn):  # every change, or none
            for change in changes:
                self._apply(conn, dn, row.id, change)

    def _apply(self, conn: Connection, dn: DN, entry_id: int, change: Change) -> None:
        key = change.attr.lower()
        if key in OPERATIONAL_ATTRIBUTES or key in _COLUMN_ATTRS:
            raise InvalidArgument(f"the attribute '{change.attr}' cannot be modified", attr=change.attr)
        rows = _value_rows({change.attr: list(change.values)})
        if change.op is ChangeOp.REPLACE or (change.op is ChangeOp.DELETE and not rows):
            conn.execute(
                delete(entry_values).where(entry_values.c.entry_id == entry_id, entry_values.c.name == key)
            )
            if rows:
                self._insert_values(entry_id, rows)
        elif change.op is ChangeOp.DELETE:
            norms = [r["value_norm"] for r in rows]
            present = conn.execute(
                select(entry_values.c.value_norm).where(
                    entry_values.c.entry_id == entry_id,
                    entry_values.c.name == key,
                    entry_values.c.value_norm.in_(norms),
                )
            ).scalars()
            missing = [r["value"] for r in rows if r["value_norm"] not in set(present)]
            if missing:
                raise ConstraintViolation(
                    f"cannot delete '{missing[0]}' from '{change.attr}': {dn.ldap_path} does not have it",
                    attr=change.attr,
                    value=missing[0],
                )
            conn.execute(
                delete(entry_values).where(
                    entry_values.c.entry_id == entry_id,
                    entry_values.c.name == key,
                    entry_values.c.value_norm.in_(norms),
                )
            )
        else:
            for value_row in rows:
                try:  # one statement: insert unless the entry already has the value
                    added = _P_ADD_VALUE.execute(conn, {**value_row, "entry_id": entry_id}).rowcount
                except IntegrityError as exc:
                    raise _unique_violation(value_row) from exc
                if added != 1:
                    raise AlreadyExists(
                        f"{dn.ldap_path} already has the value '{value_row['value']}' in '{change.attr}'",
                        attr=change.attr,
                        value=value_row["value"],
                    )

    def delete(self, dn: DN) -> None:
        conn = self._conn
        row = _P_ID.execute(conn, {"dn_norm": dn.norm}).first()
        if row is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        if conn.execute(select(exists().where(entries.c.parent_id == row.id))).scalar():
            raise NotEmpty(f"{dn.ldap_path} has children and cannot be deleted", dn=str(dn))
        conn.execute(delete(entry_values).where(entry_values.c.entry_id == row.id))
        conn.execute(
            delete(entry_values).where(entry_values.c.name == "member", entry_values.c.value_norm == dn.norm)
        )
        conn.execute(delete(entries).where(entries.c.id == row.id))

    def move(self, dn: DN, new_dn: DN) -> None:
        conn = self._conn
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
                .where(entry_values.c.name == "member", entry_values.c.value_norm == old.norm)
                .values(value=str(moved), value_norm=moved.norm)
            )
        conn.execute(update(entries).where(entries.c.id == row.id).values(parent_id=parent.id))

    # --- helpers ----------------------------------------------------------------------------------

    def _next_rid(self) -> int:
        return int(_P_NEXT_RID.execute(self._conn).scalar_one())

    def _insert_values(self, entry_id: int, rows: list[dict[str, str]]) -> None:
        if not rows:
            return
        for r in rows:
            r["entry_id"] = entry_id  # type: ignore[assignment]
        try:
            _P_INSERT_VALUES.execute_many(self._conn, rows)
        except IntegrityError as exc:
            # the entry's own rows may already be in (executemany stops at the failing one)
            taken = [r for r in rows if r["name"] in UNIQUE_ATTRIBUTES and self._held_elsewhere(r, entry_id)]
            raise _unique_violation(taken[0] if taken else rows[0]) from exc

    def _held_elsewhere(self, row: Mapping[str, str], entry_id: int) -> bool:
        params = {"name": row["name"], "norm": row["value_norm"], "entry_id": entry_id}
        return _P_HELD_ELSEWHERE.execute(self._conn, params).first() is not None


def _unique_violation(row: Mapping[str, str]) -> ConstraintViolation:
    # The holder stays out of the error: it may be another tenant's object.
    return ConstraintViolation(
        f"{row['attr']} '{row['value']}' is already in use", attr=row["attr"], value=row["value"]
    )


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


def _value_rows(attrs: Mapping[str, Iterable[str]]) -> list[dict[str, str]]:
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
        for value in values:
            if not isinstance(value, str) or "\x00" in value:
                raise InvalidArgument(f"the value of '{attr}' must be text without NUL characters", attr=attr)
            norm = normalize_value(key, value)
            if (key, norm) in seen:
                continue
            seen.add((key, norm))
            rows.append({"attr": written, "name": key, "value": value, "value_norm": norm})
    return rows


def _key_part(dn: DN) -> str:
    """The leaf RDN's share of ``tree_key`` (``DN.relative_key`` minus the parent's)."""
    return dn.relative_key()[len(dn.parent.relative_key()) :] if len(dn) > 1 else dn.relative_key()


def _chunks(items: list, size: int = _MAX_IN) -> Iterable[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- filters → SQL ------------------------------------------------------------------------------


_DN_VALUED = frozenset({*DN_ATTRIBUTES, "memberof"})


def _comparable_attributes(entry: Entry) -> dict[str, Sequence[str]]:
    """An entry's attributes as the Python recheck compares them: DN values in canonical form."""
    attrs: dict[str, Sequence[str]] = {
        k: [normalize_value("distinguishedname", v) for v in vs] if k in _DN_VALUED else vs
        for k, vs in entry.attributes.items()
    }
    attrs["distinguishedname"] = [entry.dn.norm]
    return attrs


def _comparable_filter(flt: f.Filter) -> f.Filter:
    """``flt`` with the values of DN-valued assertions in canonical form (see above)."""
    if isinstance(flt, f.And):
        return f.And(tuple(_comparable_filter(i) for i in flt.items))
    if isinstance(flt, f.Or):
        return f.Or(tuple(_comparable_filter(i) for i in flt.items))
    if isinstance(flt, f.Not):
        return f.Not(_comparable_filter(flt.item))
    if isinstance(flt, f.Equal | f.Approx) and flt.attr_key in _DN_VALUED:
        try:
            return type(flt)(flt.attr, DN.parse(flt.value).norm)
        except InvalidArgument:
            return flt
    return flt


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _value_exists(name: str, *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    v = entry_values.alias()
    return exists().where(v.c.entry_id == entries.c.id, v.c.name == name, *[c(v) for c in conds])  # type: ignore[operator]


def _compile(flt: f.Filter) -> tuple[ColumnElement[bool], bool]:
    """(SQL condition, exact).  Not exact → the caller re-checks rows with ``filters.matches``."""
    if isinstance(flt, f.And | f.Or):
        parts = [_compile(i) for i in flt.items]
        if not parts:
            return (true() if isinstance(flt, f.And) else false()), True
        conds = [p[0] for p in parts]
        return (and_(*conds) if isinstance(flt, f.And) else or_(*conds)), all(p[1] for p in parts)
    if isinstance(flt, f.Not):
        cond, exact = _compile(flt.item)
        # NOT of an approximate prefilter is no prefilter at all: let the recheck decide
        return (~cond, True) if exact else (true(), False)
    key = flt.attr.lower()
    if key in _COLUMN_ATTRS or key in ("distinguishedname", "memberof"):
        return _compile_special(flt, key)
    if isinstance(flt, f.Present):
        return _value_exists(key), True
    if isinstance(flt, f.Equal | f.Approx):
        try:
            norm = normalize_value(key, flt.value)
        except InvalidArgument:
            return false(), True
        return _value_exists(key, lambda v: v.c.value_norm == norm), True
    if isinstance(flt, f.Substring):
        pattern = (
            _like_escape((flt.initial or "").casefold())
            + "%"
            + "".join(_like_escape(a.casefold()) + "%" for a in flt.any)
            + _like_escape((flt.final or "").casefold())
        )
        return _value_exists(key, lambda v: v.c.value_norm.like(pattern, escape="\\")), key not in ("member",)
    # >= and <= compare numbers numerically: let SQL narrow to entries that have the attribute
    return _value_exists(key), False


def _compile_special(flt: f.Filter, key: str) -> tuple[ColumnElement[bool], bool]:
    if isinstance(flt, f.Present):
        if key == "memberof":
            return exists().where(
                entry_values.c.name == "member", entry_values.c.value_norm == entries.c.dn_norm
            ), True
        return true(), True
    if isinstance(flt, f.Equal | f.Approx):
        if key == "memberof":
            try:
                group = DN.parse(flt.value).norm
            except InvalidArgument:
                return false(), True
            g = entries.alias()
            return exists().where(
                entry_values.c.name == "member",
                entry_values.c.value_norm == entries.c.dn_norm,
                entry_values.c.entry_id == g.c.id,
                g.c.dn_norm == group,
            ), True
        if key == "distinguishedname":
            try:
                return entries.c.dn_norm == DN.parse(flt.value).norm, True
            except InvalidArgument:
                return false(), True
        column = entries.c.object_guid if key == "objectguid" else entries.c.object_sid
        return func.lower(column) == flt.value.casefold(), True
    return true(), False
