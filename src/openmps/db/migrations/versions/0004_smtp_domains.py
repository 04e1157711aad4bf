"""SMTP domains of organizations (plans-database assets).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "smtp_domains",
        sa.Column("domain_key", sa.String(256)),
        sa.Column("domain", sa.String(256), nullable=False),
        sa.Column("org_guid", sa.String(36), nullable=False),
        sa.Column("domain_type", sa.String(16), nullable=False),
        sa.Column("recipient_policy", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("domain_key", name="pk_smtp_domains"),
    )
    op.create_index("ix_smtp_domains_org_guid", "smtp_domains", ["org_guid"])


def downgrade() -> None:
    op.drop_table("smtp_domains")
