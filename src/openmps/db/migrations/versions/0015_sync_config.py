"""Service provisioning configuration: ``sync_configs`` (connection, encrypted bind password, scope,
rules), ``mailbox_holds`` (litigation holds), and the connector space's anchor, IM retention and
the services each user has.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    with op.batch_alter_table("sync_objects") as batch:
        batch.add_column(sa.Column("anchor", sa.Text, nullable=True))
        batch.add_column(sa.Column("im_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("services", sa.String(64), nullable=False, server_default=sa.text("''")))
    # until now every synced user got a mailbox (the default rule was the only one)
    op.execute("UPDATE sync_objects SET services = 'mailbox' WHERE kind = 'user'")
    op.create_table(
        "sync_configs",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("source_url", sa.Text, nullable=True),
        sa.Column("bind_dn", sa.Text, nullable=True),
        sa.Column("bind_password", sa.Text, nullable=True),
        sa.Column("start_tls", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("include_ous", sa.Text, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("exclude_ous", sa.Text, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("rules", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_guid", name="pk_sync_configs"),
    )
    op.create_table(
        "mailbox_holds",
        sa.Column("user_guid", sa.String(36)),
        sa.Column("org_guid", sa.String(36), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("user_guid", name="pk_mailbox_holds"),
    )
    op.create_index("ix_mailbox_holds_org_guid", "mailbox_holds", ["org_guid"])


def downgrade() -> None:
    op.drop_index("ix_mailbox_holds_org_guid", "mailbox_holds")
    op.drop_table("mailbox_holds")
    op.drop_table("sync_configs")
    with op.batch_alter_table("sync_objects") as batch:
        batch.drop_column("services")
        batch.drop_column("im_until")
        batch.drop_column("anchor")
