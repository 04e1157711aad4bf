"""32 clients of nine tenants against a real ``openmps serve`` for 15 s (bench/bench_load.py, shortened).

The load fails on any 5xx but a 503 with Retry-After (which the clients retry), on a request left
unanswered, on a duplicate UPN, sAMAccountName or proxy address, on a user or organization that
the answers and the store disagree about, and on over-allocated storage.  The full run, with
figures and a baseline, is ``./scripts/bench.sh bench/bench_load.py``.  Run this tier alone with
``pytest -m load``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bench_load
import httpx
import pytest
from bench_load import Ledger, Setup
from sqlalchemy import delete, insert, text, update

from openmps.app import Deployment, open_deployment
from openmps.db.schema import entries, entry_values, rm_allocations, rm_mailboxes

CLIENTS = 32
SECONDS = 15.0
TIMEOUT = 20.0  # no answer may take longer, retries after 503 excepted


@pytest.mark.load
def test_mixed_load(tmp_path: Path) -> None:
    _, report = bench_load.run(
        tmp_path / "home", clients=CLIENTS, seconds=SECONDS, baseline_seconds=0, timeout=TIMEOUT
    )
    problems = report.problems
    summary = "\n".join([*report.lines(), *problems[:40], *report.server_errors[:10]])
    assert not problems, summary
    # the mix really ran: every procedure, and each kind of write succeeded at least once
    succeeded = Counter(c.procedure for c in report.calls if c.status == 200)
    assert set(succeeded) == {
        "CreateBusinessUser",
        "GetBusinessUsers",
        "DeleteBusinessUser",
        "CreateBusinessOrganization",
    }, summary


# --- the checks themselves find what they look for --------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Setup, Deployment, Ledger]]:
    """Two customers, one user with a BaseMail mailbox and one without, as the clients would record
    them; the store opened in-process."""
    setup = bench_load.prepare(tmp_path / "home", resellers=1, customers=2)
    d = open_deployment(setup.home)
    ledger = Ledger()
    tenant = setup.customers[0]
    for upn, plan in ((f"a@{tenant.domain}", True), (f"b@{tenant.domain}", False)):
        outcome = d.submit(bench_load.user_request(tenant, upn, plan=plan))
        assert outcome.ok, outcome.to_bytes()
        ledger.created[upn] = 1
    yield setup, d, ledger
    bench_load.close(d)


def problems(d: Deployment, ledger: Ledger) -> list[str]:
    return [
        *bench_load.duplicates(d.sql),
        *bench_load.over_allocation(d.sql),
        *bench_load.lost_or_extra(d.sql, ledger),
    ]


def _entry(d: Deployment, upn: str) -> int:
    with d.sql.connect() as conn:
        return int(
            conn.execute(
                text("SELECT entry_id FROM entry_values WHERE name = 'userprincipalname' AND value = :v"),
                {"v": upn},
            ).scalar_one()
        )


def test_checks_hold_on_a_consistent_store(small: tuple[Setup, Deployment, Ledger]) -> None:
    _, d, ledger = small
    assert problems(d, ledger) == []


def test_checks_find_a_duplicate_name(small: tuple[Setup, Deployment, Ledger]) -> None:
    setup, d, ledger = small
    address = f"smtp:a@{setup.customers[0].domain}"  # a's is SMTP:a@…: one address
    b = _entry(d, f"b@{setup.customers[0].domain}")
    with d.sql.begin() as conn:  # what the store's unique index exists to prevent
        conn.execute(text("DROP INDEX uq_entry_values_unique_attrs"))
        conn.execute(
            insert(entry_values).values(
                entry_id=b,
                attr="proxyAddresses",
                name="proxyaddresses",
                value=address,
                value_norm=address,
            )
        )
    found = problems(d, ledger)
    assert any(p.startswith("proxyaddresses") and "held by 2 entries" in p for p in found), found


def test_checks_find_over_allocation(small: tuple[Setup, Deployment, Ledger]) -> None:
    _, d, ledger = small
    with d.sql.begin() as conn:  # a mailbox forgotten by its allocation: its space counted twice
        conn.execute(update(rm_allocations).values(used_kb=0))
    found = problems(d, ledger)
    assert any("mailboxes sum to 10000" in p for p in found), found


def test_checks_find_a_mailbox_without_allocation(small: tuple[Setup, Deployment, Ledger]) -> None:
    _, d, ledger = small
    with d.sql.begin() as conn:
        conn.execute(delete(rm_mailboxes))
        conn.execute(update(rm_allocations).values(used_kb=0))
    found = problems(d, ledger)
    assert any("has a mailbox and no allocation" in p for p in found), found


def test_checks_find_lost_and_extra_users(small: tuple[Setup, Deployment, Ledger]) -> None:
    setup, d, ledger = small
    domain = setup.customers[0].domain
    b = _entry(d, f"b@{domain}")
    with d.sql.begin() as conn:  # b lost, though answered 200
        conn.execute(delete(entries).where(entries.c.id == b))
    ledger.refused.add(f"admin@{domain}")  # an existing user the clients were told was refused
    ledger.created[f"twice@{domain}"] = 2
    found = problems(d, ledger)
    assert f"b@{domain} was created (200) but exists 0 times" in found, found
    assert f"admin@{domain} exists although it was refused" in found, found
    assert f"twice@{domain} was created 2 times" in found, found


# --- the clients' retries ---------------------------------------------------------------------------


def answering(*responses: httpx.Response) -> httpx.Client:
    queue = list(responses)
    return httpx.Client(base_url="http://openmps.test", transport=httpx.MockTransport(lambda _: queue.pop(0)))


BUSY = b'<response><errorContext code="0x800705AA" description="busy"/></response>'


def test_a_503_with_retry_after_is_sent_again() -> None:
    with answering(
        httpx.Response(503, headers={"Retry-After": "0"}, content=BUSY),
        httpx.Response(503, headers={"Retry-After": "0"}, content=BUSY),
        httpx.Response(200, content=b"<response/>"),
    ) as http:
        call = bench_load.send(http, "GetPlans", "<request/>", give_up=time.monotonic() + 10)
    assert (call.status, call.code, call.retries) == (200, None, 2)


def test_a_503_without_retry_after_counts_against_the_server() -> None:
    with answering(httpx.Response(503, content=BUSY)) as http:
        call = bench_load.send(http, "GetPlans", "<request/>", give_up=time.monotonic() + 10)
    assert (call.status, call.code, call.retries, call.retry_after) == (503, "0x800705AA", 0, False)
    assert bench_load.unexpected([call]) == [call]
