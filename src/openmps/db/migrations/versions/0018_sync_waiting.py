"""Service provisioning sync: the source objects waiting on another not managed yet
(``sync_waiting``: a manager, a group member, by the named DN's normal form), read again by the
delta that lists the named object.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.create_table(
        "sync_waiting",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("source_guid", sa.String(36)),
        sa.Column("target", sa.Text),
        sa.PrimaryKeyConstraint("org_guid", "source_guid", "target", name="pk_sync_waiting"),
    )
    op.create_index("ix_sync_waiting_target", "sync_waiting", ["org_guid", "target"])


def downgrade() -> None:
    op.drop_index("ix_sync_waiting_target", table_name="sync_waiting")
    op.drop_table("sync_waiting")
