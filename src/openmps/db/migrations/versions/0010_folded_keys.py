"""Names compare folded (NFKC, casefolded, NFKC again: ``openmps.types.fold``), no longer only
casefolded, so a full-width or other compatibility form of a name collides with it.  The keys of
entries (``dn_norm``, ``tree_key``) and values (``value_norm``) written before are recomputed; only
non-ASCII text can change, since ASCII folds to its lower case as before.  Two names that fold alike
stop the upgrade with both named (the unique indexes refuse the second): an operator renames one.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from openmps.directory.interface import DN_ATTRIBUTES, normalize_value
from openmps.types import DN, escape_dn_value

revision = "0010"
down_revision = "0009"


def _non_ascii(column: str) -> str:
    """A condition true for text with a character past ASCII (its bytes outnumber its characters)."""
    if op.get_bind().dialect.name == "sqlite":
        return f"length(CAST({column} AS BLOB)) <> length({column})"
    return f"octet_length({column}) <> char_length({column})"


def _update(statement: str, params: dict[str, object], what: str) -> None:
    try:
        op.get_bind().execute(sa.text(statement), params)
    except sa.exc.IntegrityError as exc:
        raise RuntimeError(f"{what} now collides with another name that folds alike: rename one") from exc


def _casefolded(dn: DN) -> tuple[str, str]:
    """(dn_norm, tree_key) as revision 0009 computed them: values casefolded only."""
    rdns = [
        "+".join(sorted(f"{a.lower()}={escape_dn_value(v.casefold())}" for a, v in rdn)) for rdn in dn.rdns
    ]
    return ",".join(rdns), "".join(r + "\x01" for r in reversed(rdns))


def _rekey(entry_keys: Callable[[DN], tuple[str, str]], value_key: Callable[[str, str], str]) -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.text(f"SELECT id, dn, dn_norm FROM entries WHERE {_non_ascii('dn')}")).all():
        norm, key = entry_keys(DN.parse(row.dn))
        if norm != row.dn_norm:
            _update(
                "UPDATE entries SET dn_norm = :norm, tree_key = :key WHERE id = :id",
                {"norm": norm, "key": key, "id": row.id},
                f"the entry {row.dn!r}",
            )
    query = f"SELECT id, name, value, value_norm FROM entry_values WHERE {_non_ascii('value')}"
    for row in conn.execute(sa.text(query)).all():
        norm = value_key(row.name, row.value)
        if norm != row.value_norm:
            _update(
                "UPDATE entry_values SET value_norm = :norm WHERE id = :id",
                {"norm": norm, "id": row.id},
                f"the value {row.value!r} of {row.name!r}",
            )


def upgrade() -> None:
    _rekey(lambda dn: (dn.norm, dn.relative_key()), normalize_value)


def downgrade() -> None:
    _rekey(
        _casefolded,
        lambda name, value: _casefolded(DN.parse(value))[0] if name in DN_ATTRIBUTES else value.casefold(),
    )
