"""Plans database: feature types, mailbox plans and their features, plans available per organization.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "plan_feature_types",
        sa.Column("feature_key", sa.String(128)),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("native_attribute", sa.String(128), nullable=False),
        sa.Column("parent_node", sa.String(16), nullable=False),
        sa.Column("data_type", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("feature_key", name="pk_plan_feature_types"),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("plan_key", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("plan_type", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("plan_key", name="uq_plans_plan_key"),
    )
    op.create_table(
        "plan_features",
        sa.Column("plan_id", sa.Integer),
        sa.Column("feature_key", sa.String(128)),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "feature_key", name="pk_plan_features"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_features_plan_id_plans"),
        sa.ForeignKeyConstraint(
            ["feature_key"],
            ["plan_feature_types.feature_key"],
            name="fk_plan_features_feature_key_plan_feature_types",
        ),
    )
    op.create_table(
        "available_plans",
        sa.Column("org_guid", sa.String(36)),
        sa.Column("plan_id", sa.Integer),
        sa.PrimaryKeyConstraint("org_guid", "plan_id", name="pk_available_plans"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_available_plans_plan_id_plans"),
    )


def downgrade() -> None:
    op.drop_table("available_plans")
    op.drop_table("plan_features")
    op.drop_table("plans")
    op.drop_table("plan_feature_types")
