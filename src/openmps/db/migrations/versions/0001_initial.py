"""Initial schema: settings, directory entries and values, audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

UNIQUE_ATTRS = "name IN ('samaccountname', 'userprincipalname', 'proxyaddresses')"


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_settings"),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("dn", sa.Text, nullable=False),
        sa.Column("dn_norm", sa.Text, nullable=False),
        sa.Column("tree_key", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("object_guid", sa.String(36), nullable=False),
        sa.Column("object_sid", sa.String(184), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
        sa.ForeignKeyConstraint(["parent_id"], ["entries.id"], name="fk_entries_parent_id_entries"),
        sa.UniqueConstraint("dn_norm", name="uq_entries_dn_norm"),
        sa.UniqueConstraint("tree_key", name="uq_entries_tree_key"),
        sa.UniqueConstraint("object_guid", name="uq_entries_object_guid"),
        sa.UniqueConstraint("object_sid", name="uq_entries_object_sid"),
    )
    op.create_index("ix_entries_parent_id", "entries", ["parent_id"])
    op.create_table(
        "entry_values",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("attr", sa.String(128), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_norm", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entry_values"),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name="fk_entry_values_entry_id_entries", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_entry_values_entry", "entry_values", ["entry_id", "name", "value_norm"])
    op.create_index("ix_entry_values_lookup", "entry_values", ["name", "value_norm"])
    op.create_index(
        "uq_entry_values_unique_attrs",
        "entry_values",
        ["name", "value_norm"],
        unique=True,
        sqlite_where=sa.text(UNIQUE_ATTRS),
        postgresql_where=sa.text(UNIQUE_ATTRS),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("procedures", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(10), nullable=True),
        sa.Column("error_description", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("client", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_request_id", "audit_log", ["request_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("entry_values")
    op.drop_table("entries")
    op.drop_table("settings")
