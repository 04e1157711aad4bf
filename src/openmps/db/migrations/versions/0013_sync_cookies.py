"""Service provisioning sync: where each organization's delta reads continue from (``sync_cookies``).

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
        "sync_cookies",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("cookie", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_guid", name="pk_sync_cookies"),
    )


def downgrade() -> None:
    op.drop_table("sync_cookies")
