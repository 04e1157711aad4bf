"""The unique values an LDAP backend claims in SQL (``directory/sql/claims.py``), on SQLite and on
PostgreSQL: a value is its holder's until released; another DN's claim of it is refused by the
value, claiming nothing; its holder claims it again freely."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openmps.db.store import SqlUnitOfWork
from openmps.directory.sql.claims import SqlClaims
from openmps.types import DN
from support import migrated_store

ANN = DN.parse("CN=ann,OU=People,DC=example,DC=com")
BOB = DN.parse("CN=bob,OU=People,DC=example,DC=com")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    made = migrated_store(request, tmp_path, f"claims_{uuid.uuid4().hex[:8]}")
    yield made
    made.dispose()


def test_a_claimed_value_is_its_holders_until_released(engine: Engine) -> None:
    uow = SqlUnitOfWork(engine)
    claims = SqlClaims(lambda: uow.connection)
    assert claims.claim(ANN, "proxyaddresses", ["smtp:a@x.example", "smtp:b@x.example"]) is None
    assert claims.claim(ANN, "proxyaddresses", ["smtp:a@x.example"]) is None  # its own already
    # bob's claim names the value ann holds and leaves the one it had claimed before it
    assert claims.claim(BOB, "proxyaddresses", ["smtp:c@x.example", "smtp:b@x.example"]) == "smtp:b@x.example"
    assert claims.claim(ANN, "proxyaddresses", ["smtp:c@x.example"]) is None
    claims.release(ANN, "proxyaddresses", ["smtp:b@x.example"])
    uow.commit()
    uow = SqlUnitOfWork(engine)
    claims = SqlClaims(lambda: uow.connection)
    assert claims.claim(BOB, "proxyaddresses", ["smtp:b@x.example"]) is None
    assert claims.claim(BOB, "proxyaddresses", ["smtp:a@x.example"]) == "smtp:a@x.example"
    assert claims.claim(BOB, "samaccountname", ["smtp:a@x.example"]) is None  # another attribute
    uow.rollback()
