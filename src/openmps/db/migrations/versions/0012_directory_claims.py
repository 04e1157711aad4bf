"""The unique values an LDAP hosting directory's entries hold, claimed in SQL (``directory_claims``).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "directory_claims",
        sa.Column("attr", sa.String(64)),
        sa.Column("value", sa.Text),
        sa.Column("dn", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("attr", "value", name="pk_directory_claims"),
    )
    op.create_index("ix_directory_claims_dn", "directory_claims", ["dn"])


def downgrade() -> None:
    op.drop_index("ix_directory_claims_dn", "directory_claims")
    op.drop_table("directory_claims")
