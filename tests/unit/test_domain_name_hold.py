"""Two claims of one domain name never both see it free: on PostgreSQL, which reads committed data,
a claim holds the name (an advisory lock) until its transaction ends; on SQLite a claim runs in a
writing step, under the database's one write lock."""

from __future__ import annotations

import threading
from pathlib import Path

from openmps.db.store import make_engine
from openmps.plans.sql import SqlPlanCatalogue
from support import create_database


def test_a_held_name_waits_for_the_holder_to_end(postgres_server: str) -> None:
    engine = make_engine(create_database(postgres_server, "hold_name"))
    try:
        first, second = engine.connect(), engine.connect()
        first.begin()
        SqlPlanCatalogue(lambda: first).hold_name("Contoso.com")
        held = threading.Event()

        def claim_again() -> None:
            with second.begin():
                SqlPlanCatalogue(lambda: second).hold_name("contoso.com")  # the same name, folded
                held.set()

        thread = threading.Thread(target=claim_again)
        thread.start()
        assert not held.wait(0.5)  # the second claim waits while the first is open
        with second.engine.connect() as other, other.begin():
            SqlPlanCatalogue(lambda: other).hold_name("fabrikam.net")  # another name does not wait
        first.commit()
        assert held.wait(5)
        thread.join(5)
        first.close()
        second.close()
    finally:
        engine.dispose()


def test_holding_a_name_on_sqlite_sends_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with engine.connect() as conn:
            SqlPlanCatalogue(lambda: conn).hold_name("contoso.com")  # the write lock serializes claims
            assert not conn.in_transaction()  # nothing was sent: no transaction began
    finally:
        engine.dispose()
