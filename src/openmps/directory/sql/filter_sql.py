"""Search filters (``directory.filters`` ASTs) as SQL conditions over the embedded store.

What SQL cannot decide exactly (ordering matches, which compare numbers as numbers) it narrows,
and the backend re-checks those rows in Python with ``filters.matches``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, true
from sqlalchemy.sql.elements import ColumnElement

from openmps.db.schema import entries, entry_values
from openmps.directory import filters as f
from openmps.directory.interface import DN_ATTRIBUTES, Entry, normalize_value
from openmps.directory.sql.statements import MEMBER, name_is
from openmps.errors import InvalidArgument
from openmps.types import DN, fold

COLUMN_ATTRS = {"objectguid": "objectGUID", "objectsid": "objectSid"}

_DN_VALUED = frozenset({*DN_ATTRIBUTES, "memberof"})


def comparable_attributes(entry: Entry) -> dict[str, Sequence[str]]:
    """An entry's attributes as the Python recheck compares them: DN values in canonical form."""
    attrs: dict[str, Sequence[str]] = {
        k: [normalize_value("distinguishedname", v) for v in vs] if k in _DN_VALUED else vs
        for k, vs in entry.attributes.items()
    }
    attrs["distinguishedname"] = [entry.dn.norm]
    return attrs


def comparable_filter(flt: f.Filter) -> f.Filter:
    """``flt`` with the values of DN-valued assertions in canonical form (see above)."""
    if isinstance(flt, f.And):
        return f.And(tuple(comparable_filter(i) for i in flt.items))
    if isinstance(flt, f.Or):
        return f.Or(tuple(comparable_filter(i) for i in flt.items))
    if isinstance(flt, f.Not):
        return f.Not(comparable_filter(flt.item))
    if isinstance(flt, f.Equal | f.Approx) and flt.attr_key in _DN_VALUED:
        try:
            return type(flt)(flt.attr, DN.parse(flt.value).norm)
        except InvalidArgument:
            return flt
    return flt


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _value_exists(name: str, *conds: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    v = entry_values.alias()
    return exists().where(v.c.entry_id == entries.c.id, name_is(v.c.name, name), *[c(v) for c in conds])


def compile_filter(flt: f.Filter) -> tuple[ColumnElement[bool], bool]:
    """(SQL condition, exact).  Not exact → the caller re-checks rows with ``filters.matches``."""
    if isinstance(flt, f.And | f.Or):
        parts = [compile_filter(i) for i in flt.items]
        if not parts:
            return (true() if isinstance(flt, f.And) else false()), True
        conds = [p[0] for p in parts]
        return (and_(*conds) if isinstance(flt, f.And) else or_(*conds)), all(p[1] for p in parts)
    if isinstance(flt, f.Not):
        cond, exact = compile_filter(flt.item)
        # NOT of an approximate prefilter is no prefilter at all: let the recheck decide
        return (~cond, True) if exact else (true(), False)
    key = flt.attr.lower()
    if key in COLUMN_ATTRS or key in ("distinguishedname", "memberof"):
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
            _like_escape(fold(flt.initial or ""))
            + "%"
            + "".join(_like_escape(fold(a)) + "%" for a in flt.any)
            + _like_escape(fold(flt.final or ""))
        )
        return _value_exists(key, lambda v: v.c.value_norm.like(pattern, escape="\\")), key not in ("member",)
    # >= and <= compare numbers numerically: let SQL narrow to entries that have the attribute
    return _value_exists(key), False


def _compile_special(flt: f.Filter, key: str) -> tuple[ColumnElement[bool], bool]:
    if isinstance(flt, f.Present):
        if key == "memberof":
            return exists().where(
                entry_values.c.name == MEMBER, entry_values.c.value_norm == entries.c.dn_norm
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
                entry_values.c.name == MEMBER,
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
