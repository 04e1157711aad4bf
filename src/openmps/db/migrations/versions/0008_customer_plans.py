"""A customer's plans, one per plan type (a mailbox plan, an IM plan, …), instead of one column.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "customer_plans",
        sa.Column("guid", sa.String(36)),
        sa.Column("plan_type", sa.String(32)),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("guid", "plan_type", name="pk_customer_plans"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_customer_plans_plan_id_plans"),
    )
    op.execute(
        "INSERT INTO customer_plans (guid, plan_type, plan_id) "
        "SELECT customers.guid, plans.plan_type, customers.plan_id FROM customers "
        "JOIN plans ON plans.id = customers.plan_id"
    )
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("fk_customers_plan_id_plans", type_="foreignkey")
        batch.drop_column("plan_id")


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("plan_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_customers_plan_id_plans", "plans", ["plan_id"], ["id"])
    op.drop_table("customer_plans")
