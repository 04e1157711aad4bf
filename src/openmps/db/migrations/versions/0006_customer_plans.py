"""A customer's mailbox plan (set by CreateMailbox and ChangeUserMailboxPlan).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("plan_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_customers_plan_id_plans", "plans", ["plan_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("fk_customers_plan_id_plans", type_="foreignkey")
        batch.drop_column("plan_id")
