"""Values are indexed by value only where the directory looks them up by value: unique attributes
(their unique index, already there) and group members.  The index of every value by value cost a
random B-tree insert for each of the two dozen values a mailbox user has, and served no query the
two partial indexes do not.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

MEMBER_VALUES = "name = 'member'"


def upgrade() -> None:
    op.create_index(
        "ix_entry_values_members",
        "entry_values",
        ["value_norm"],
        sqlite_where=sa.text(MEMBER_VALUES),
        postgresql_where=sa.text(MEMBER_VALUES),
    )
    op.drop_index("ix_entry_values_lookup", table_name="entry_values")


def downgrade() -> None:
    op.create_index("ix_entry_values_lookup", "entry_values", ["name", "value_norm"])
    op.drop_index("ix_entry_values_members", table_name="entry_values")
