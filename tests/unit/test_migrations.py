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
