"""The Alembic migrations create exactly the tables of ``db/schema.py``, and run idempotently."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from openmps.db.schema import metadata
from openmps.db.store import make_engine, migrate, sqlite_url


def test_migrations_match_the_schema(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "m.db"))
    migrate(engine)
    migrate(engine)  # a second run changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    with engine.connect() as conn:
        indexes = {i["name"]: i for i in inspect(conn).get_indexes("entry_values")}
    assert indexes["uq_entry_values_unique_attrs"]["unique"]
    assert indexes["ix_entry_values_entry"]["column_names"] == ["entry_id", "name", "value_norm"]
    engine.dispose()


def test_constraint_names_follow_the_naming_convention(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "c.db"))
    migrate(engine)
    with engine.connect() as conn:
        checks = {
            c["name"] for t in ("rm_stores", "rm_allocations") for c in inspect(conn).get_check_constraints(t)
        }
    assert checks == {"ck_rm_stores_within_capacity", "ck_rm_allocations_within_allocation"}
    engine.dispose()
