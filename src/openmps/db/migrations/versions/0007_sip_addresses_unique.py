"""SIP addresses (msRTCSIP-PrimaryUserAddress) join the attributes unique in the whole directory.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

BEFORE = "name IN ('samaccountname', 'userprincipalname', 'proxyaddresses')"
AFTER = "name IN ('samaccountname', 'userprincipalname', 'proxyaddresses', 'msrtcsip-primaryuseraddress')"


def _index(where: str) -> None:
    op.create_index(
        "uq_entry_values_unique_attrs",
        "entry_values",
        ["name", "value_norm"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index("uq_entry_values_unique_attrs", table_name="entry_values")
    _index(AFTER)


def downgrade() -> None:
    op.drop_index("uq_entry_values_unique_attrs", table_name="entry_values")
    _index(BEFORE)
