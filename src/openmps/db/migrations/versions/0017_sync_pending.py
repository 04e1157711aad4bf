"""Service provisioning sync: the source objects whose last run failed (``sync_pending``), so the
DirSync cookie moves past them and later runs read them again by objectGUID alone.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "sync_pending",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("source_guid", sa.String(36)),
        sa.Column("source_dn", sa.Text, nullable=False),
        sa.Column("code", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("org_guid", "source_guid", name="pk_sync_pending"),
    )


def downgrade() -> None:
    op.drop_table("sync_pending")
