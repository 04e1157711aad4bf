"""Service provisioning sync from LDAP: where each organization's delta reads continue from
(``sync_cookies``), and the authority its stored connection checks the source's certificate
against (``sync_configs.ca_certificate``).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.create_table(
        "sync_cookies",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("cookie", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_guid", name="pk_sync_cookies"),
    )
    with op.batch_alter_table("sync_configs") as batch:
        batch.add_column(sa.Column("ca_certificate", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_configs") as batch:
        batch.drop_column("ca_certificate")
    op.drop_table("sync_cookies")
