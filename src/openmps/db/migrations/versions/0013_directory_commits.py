"""The requests whose writes to an LDAP hosting directory committed (``directory_commits``).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "directory_commits",
        sa.Column("request", sa.String(36)),
        sa.PrimaryKeyConstraint("request", name="pk_directory_commits"),
    )


def downgrade() -> None:
    op.drop_table("directory_commits")
