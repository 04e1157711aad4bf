"""The Alembic migrations create exactly the tables of ``db/schema.py``, and run idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from openmps.db.schema import metadata
from openmps.db.store import MIGRATIONS, make_engine, migrate, sqlite_url
from openmps.types import DN
from support import create_database


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


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_keys_of_names_written_before_are_refolded(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    """0010: keys stored casefolded only (full width kept) are recomputed folded, so an existing
    full-width name and its ASCII look-alike collide after the upgrade."""
    if database == "sqlite":
        url = sqlite_url(tmp_path / "f.db")
    else:
        url = create_database(request.getfixturevalue("postgres_server"), "refold")
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
        dn = "CN=ａｄｍｉｎ,DC=x,DC=com"
        old_norm = "cn=ａｄｍｉｎ,dc=x,dc=com"
        conn.execute(
            text(
                "INSERT INTO entries (id, dn, dn_norm, tree_key, object_guid, object_sid) "
                "VALUES (1, :dn, :norm, :key, 'g', 's')"
            ),
            {"dn": dn, "norm": old_norm, "key": "dc=com\x01dc=x\x01cn=ａｄｍｉｎ\x01"},
        )
        conn.execute(
            text(
                "INSERT INTO entry_values (entry_id, attr, name, value, value_norm) "
                "VALUES (1, 'sAMAccountName', 'samaccountname', 'ＡＤＭＩＮ', 'ａｄｍｉｎ'), "
                "(1, 'description', 'description', 'plain', 'plain')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT dn_norm, tree_key FROM entries")).one()
        values = {
            r.name: r.value_norm for r in conn.execute(text("SELECT name, value_norm FROM entry_values"))
        }
    assert row.dn_norm == DN.parse("CN=admin,DC=x,DC=com").norm == "cn=admin,dc=x,dc=com"
    assert row.tree_key == "dc=com\x01dc=x\x01cn=admin\x01"
    assert values == {"samaccountname": "admin", "description": "plain"}
    engine.dispose()
