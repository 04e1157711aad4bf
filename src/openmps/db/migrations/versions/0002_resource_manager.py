"""Resource Manager: mail and public stores, front-end servers, organization allocations, mailboxes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "rm_stores",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("server_name", sa.String(256), nullable=False),
        sa.Column("store_name", sa.String(256), nullable=False),
        sa.Column("store_key", sa.String(256), nullable=False),
        sa.Column("shared", sa.Integer, nullable=False),
        sa.Column("capacity_kb", sa.Integer, nullable=False),
        sa.Column("allocated_kb", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_stores"),
        sa.UniqueConstraint("store_key", name="uq_rm_stores_store_key"),
        sa.CheckConstraint(
            "allocated_kb >= 0 AND allocated_kb <= capacity_kb", name=op.f("ck_rm_stores_within_capacity")
        ),
    )
    op.create_table(
        "rm_front_ends",
        sa.Column("server_key", sa.String(256)),
        sa.Column("server_name", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("server_key", name="pk_rm_front_ends"),
    )
    op.create_table(
        "rm_allocations",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("org_guid", sa.String(36), nullable=False),
        sa.Column("store_id", sa.Integer, nullable=False),
        sa.Column("allocated_kb", sa.Integer, nullable=False),
        sa.Column("used_kb", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rm_allocations"),
        sa.ForeignKeyConstraint(["store_id"], ["rm_stores.id"], name="fk_rm_allocations_store_id_rm_stores"),
        sa.UniqueConstraint("org_guid", "store_id", name="uq_rm_allocations_org_store"),
        sa.CheckConstraint(
            "used_kb >= 0 AND used_kb <= allocated_kb", name=op.f("ck_rm_allocations_within_allocation")
        ),
    )
    op.create_index("ix_rm_allocations_store_id", "rm_allocations", ["store_id"])
    op.create_table(
        "rm_mailboxes",
        sa.Column("mailbox_guid", sa.String(36)),
        sa.Column("org_guid", sa.String(36), nullable=False),
        sa.Column("store_id", sa.Integer, nullable=False),
        sa.Column("size_kb", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("mailbox_guid", name="pk_rm_mailboxes"),
        sa.ForeignKeyConstraint(["store_id"], ["rm_stores.id"], name="fk_rm_mailboxes_store_id_rm_stores"),
    )
    op.create_index("ix_rm_mailboxes_org_guid", "rm_mailboxes", ["org_guid"])


def downgrade() -> None:
    op.drop_table("rm_mailboxes")
    op.drop_table("rm_allocations")
    op.drop_table("rm_front_ends")
    op.drop_table("rm_stores")
