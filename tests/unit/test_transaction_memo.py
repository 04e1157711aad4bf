"""What a transaction remembers (db/memo.py) never outlives what it remembers.

The embedded directory remembers entry rows and whole entries, the plans database plans,
availability, domains and new customer records.  Each test reads through the memo after a write
and after a rollback, and compares with what a fresh reader on the same transaction sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from openmps.db.memo import TransactionMemo
from openmps.db.schema import entry_values, settings
from openmps.db.store import SqlUnitOfWork, make_engine, migrate, sqlite_url
from openmps.directory.interface import Change
from openmps.directory.sql.backend import SqlDirectory
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, NotFound
from openmps.plans.samples import seed
from openmps.plans.sql import SqlPlanCatalogue
from openmps.types import DN

SID = "S-1-5-21-1-2-3"
NC = DN.parse("DC=example,DC=com")
USER = DN.parse("CN=ann,DC=example,DC=com")
GROUP = DN.parse("CN=staff,DC=example,DC=com")
PERSON = {"objectClass": ["top", "person", "user"], "userPrincipalName": ["ann@example.com"]}


def test_a_memo_forgets_everything_after_a_rollback_and_stays_bounded() -> None:
    rollbacks = 0
    memo: TransactionMemo[str, int] = TransactionMemo(lambda: rollbacks, limit=3)
    memo.put("a", 1)
    assert memo.get("a") == 1
    rollbacks += 1
    assert memo.get("a") is None
    for key in "bcde":
        memo.put(key, 1)
    assert memo.get("b") is None and memo.get("e") == 1  # full at three: started again
    blind: TransactionMemo[str, int] = TransactionMemo(None)
    blind.put("a", 1)
    assert blind.get("a") is None  # no way to know of rollbacks: remembers nothing


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[SqlUnitOfWork]:
    engine = make_engine(sqlite_url(tmp_path / "m.db"))
    migrate(engine)
    unit = SqlUnitOfWork(engine)
    unit.connection.execute(insert(settings), {"name": "next_rid", "value": "1000"})
    yield unit
    unit.rollback()
    engine.dispose()


def directory(uow: SqlUnitOfWork) -> SqlDirectory:
    return SqlDirectory(lambda: uow.connection, domain_sid=SID, rollbacks=uow.rollbacks)


def test_an_entry_added_then_rolled_back_is_gone_for_the_same_reader(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})
    with pytest.raises(InvalidArgument), uow.savepoint():
        d.add(USER, PERSON)
        assert d.exists(USER) and USER in d.find_many([USER])
        raise InvalidArgument("undo")
    assert not d.exists(USER)
    assert d.find_many([USER]) == {}
    with pytest.raises(NotFound):
        d.modify(USER, [Change.replace("mail", "ann@example.com")])
    d.add(USER, PERSON)  # the same DN again, on a new row
    d.modify(USER, [Change.replace("mail", "ann@example.com")])
    assert d.find_many([USER])[USER].get("mail") == ("ann@example.com",)


def test_what_the_memo_answers_is_what_the_store_holds(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})
    d.add(USER, {**PERSON, "displayName": ["Ann"]})
    d.add(GROUP, {"objectClass": ["top", "group"], "sAMAccountName": ["staff"]})
    d.modify(GROUP, [Change.add("member", str(USER))])
    # stamping attributes the entry does not have yet: one insert
    d.modify(
        USER, [Change.replace("mail", "ann@example.com"), Change.replace("proxyAddresses", "SMTP:a@x.org")]
    )
    d.find_many([USER])  # read whole: remembered
    d.modify(USER, [Change.replace("displayName", "Ann B"), Change.delete("mail")])
    for attributes in (None, ("displayName", "mail", "objectClass")):
        remembered = d.find_many([USER, GROUP], attributes=attributes)
        fresh = directory(uow).find_many([USER, GROUP], attributes=attributes)
        assert remembered == fresh
    assert fresh[USER].get("displayName") == ("Ann B",) and not fresh[USER].get("mail")


def test_a_stamp_that_fails_writes_nothing(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})
    d.add(GROUP, {"objectClass": ["top", "group"], "proxyAddresses": ["SMTP:taken@x.org"]})
    d.add(USER, PERSON)
    stamp = [Change.replace("mail", "ann@x.org"), Change.replace("proxyAddresses", "SMTP:taken@x.org")]
    with pytest.raises(ConstraintViolation, match=r"taken@x\.org"):
        d.modify(USER, stamp)
    assert not directory(uow).find_many([USER])[USER].get("mail")
    with pytest.raises(AlreadyExists):
        d.modify(GROUP, [Change.add("member", str(USER)), Change.add("member", str(USER))])
    assert not directory(uow).find_many([GROUP])[GROUP].get("member")


def test_a_moved_or_deleted_entry_is_not_found_where_it_was(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})
    d.add(USER, PERSON)
    moved = DN.parse("CN=ann2,DC=example,DC=com")
    d.move(USER, moved)
    assert not d.exists(USER) and d.exists(moved)
    d.delete(moved)
    assert not d.exists(moved) and d.find_many([moved]) == {}


def test_plans_availability_and_domains_follow_writes_and_rollbacks(uow: SqlUnitOfWork) -> None:
    plans = SqlPlanCatalogue(lambda: uow.connection, rollbacks=uow.rollbacks)
    seed(plans)
    base = plans.plan("BaseMail")
    assert not plans.is_available("org", base.plan_id)
    with pytest.raises(InvalidArgument), uow.savepoint():
        plans.make_available("org", ["BaseMail"])
        assert plans.is_available("org", base.plan_id)
        plans.add_domain("org", "x.org", domain_type="PrimaryDomain", recipient_policy=True)
        assert [d.domain for d in plans.domains("org")] == ["x.org"]
        raise InvalidArgument("undo")
    assert not plans.is_available("org", base.plan_id)
    assert plans.domains("org") == []
    plans.make_available("org", ["BaseMail"])
    assert plans.is_available("org", base.plan_id)
    plans.make_unavailable("org", ["BaseMail"])
    assert not plans.is_available("org", base.plan_id)
    plans.add_domain("org", "y.org", domain_type="PrimaryDomain", recipient_policy=True)
    assert [d.domain for d in plans.domains("org")] == ["y.org"]
    plans.remove_domain("y.org")
    assert plans.domains("org") == []

    plans.record_customer("u1", customer_type="BusinessUser", org="org", name="u1@y.org")
    assert plans.customer_plan("u1", "ExchMailbox") == ("BusinessUser", None)
    plans.set_plan("u1", "ExchMailbox", "BaseMail")
    plans.set_plan("u1", "ExchMailbox", "GoldMail")
    fresh = SqlPlanCatalogue(lambda: uow.connection)
    assert plans.customer_plan("u1", "ExchMailbox") == fresh.customer_plan("u1", "ExchMailbox")
    assert fresh.customer_plan("u1", "ExchMailbox") == ("BusinessUser", "GoldMail")
    record = fresh.customer("u1")
    assert record is not None and record.plans == (("ExchMailbox", "GoldMail"),)


def test_rids_reserved_in_blocks_are_never_handed_out_twice(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})

    def add(i: int, on: SqlDirectory = d) -> str:
        return on.add(DN.parse(f"CN=u{i},DC=example,DC=com"), {"objectClass": ["user"]}).sid

    sids = [add(i) for i in range(5)]
    with pytest.raises(InvalidArgument), uow.savepoint():
        [add(i) for i in range(5, 40)]  # RIDs of a rolled-back block: the counter rolled back too
        raise InvalidArgument("undo")
    sids += [add(i) for i in range(40, 100)]
    sids += [add(i, directory(uow)) for i in range(100, 103)]  # another reader of the counter
    sids += [add(i) for i in range(103, 200)]
    assert len(set(sids)) == len(sids)
    rids = sorted(int(sid.rsplit("-", 1)[1]) for sid in sids)
    assert rids[-1] - rids[0] < len(sids) + 2 * 64  # what blocks skip is bounded


def test_a_given_sid_is_the_entrys_column_not_one_of_its_values(uow: SqlUnitOfWork) -> None:
    d = directory(uow)
    d.add(NC, {"objectClass": ["top", "domain"], "dc": ["example"]})
    d.add(USER, {**PERSON, "objectSid": [f"{SID}-4242"]})
    assert directory(uow).find_many([USER])[USER].get("objectSid") == (f"{SID}-4242",)
    stored = uow.connection.execute(select(entry_values.c.name).where(entry_values.c.name == "objectsid"))
    assert stored.all() == []
