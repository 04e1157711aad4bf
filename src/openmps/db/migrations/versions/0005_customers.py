"""Customer records and billable events (plans database).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("guid", sa.String(36)),
        sa.Column("customer_type", sa.String(32), nullable=False),
        sa.Column("org_guid", sa.String(36), nullable=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guid", name="pk_customers"),
    )
    op.create_index("ix_customers_org_guid", "customers", ["org_guid"])
    op.create_table(
        "billable_events",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_guid", sa.String(36), nullable=False),
        sa.Column("org_guid", sa.String(36), nullable=True),
        sa.Column("event", sa.String(2), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billable_events"),
    )
    op.create_index("ix_billable_events_at", "billable_events", ["at"])
    op.create_index("ix_billable_events_org_guid", "billable_events", ["org_guid"])


def downgrade() -> None:
    op.drop_table("billable_events")
    op.drop_table("customers")
