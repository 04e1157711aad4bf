"""The procedures that run under a stored credential when run as a service (``execute_as``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "execute_as",
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("procedure", sa.String(128), nullable=False),
        sa.Column("account", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "procedure", name="pk_execute_as"),
    )


def downgrade() -> None:
    op.drop_table("execute_as")
