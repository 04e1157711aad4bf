"""Service provisioning sync: the connector space (``sync_objects``) and run records (``sync_runs``).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "sync_objects",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("source_guid", sa.String(36)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_dn", sa.Text, nullable=False),
        sa.Column("managed_dn", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("org_guid", "source_guid", name="pk_sync_objects"),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("org_guid", sa.String(36), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=False),
        sa.Column("preview", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_org_guid", "sync_runs", ["org_guid"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_org_guid", "sync_runs")
    op.drop_table("sync_runs")
    op.drop_table("sync_objects")
