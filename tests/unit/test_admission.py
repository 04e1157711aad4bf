"""Admission: a bound on requests running at once, in all and per tenant; waits are bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from openmps.engine.admission import PROVIDER, Admission, AdmissionLimits
from openmps.engine.context import Caller
from openmps.errors import InvalidArgument, ServiceBusy


def who(tenant: str) -> Caller:
    return Caller(name=tenant, dn=None, sid=f"S-1-{tenant}")


def admission(**limits: float) -> Admission:
    return Admission(AdmissionLimits(**limits), lambda caller: caller.name)  # type: ignore[arg-type]


def enter(gate: Admission, tenant: str) -> None:
    with gate.admit(who(tenant)):
        pass


def test_a_tenant_over_its_limit_is_refused_while_another_is_admitted() -> None:
    gate = admission(running=4, per_tenant=2, provider=4, wait=0)
    with ExitStack() as held:
        held.enter_context(gate.admit(who("a")))
        held.enter_context(gate.admit(who("a")))
        with pytest.raises(ServiceBusy, match="your organization's limit") as refused:
            held.enter_context(gate.admit(who("a")))
        assert refused.value.retry_after == 1 and refused.value.http_status == 503
        held.enter_context(gate.admit(who("b")))  # another tenant still gets in
    enter(gate, "a")  # places are given back


def test_the_global_bound_holds_across_tenants() -> None:
    gate = admission(running=2, per_tenant=2, provider=2, wait=0)
    with gate.admit(who("a")), gate.admit(who("b")), pytest.raises(ServiceBusy, match="the server's limit"):
        enter(gate, "c")


def test_the_provider_has_a_bucket_of_its_own() -> None:
    gate = admission(running=8, per_tenant=1, provider=3, wait=0)
    assert gate.limit_of(PROVIDER) == 3 and gate.limit_of("a") == 1
    with ExitStack() as held:
        for _ in range(3):
            held.enter_context(gate.admit(who(PROVIDER)))
        with pytest.raises(ServiceBusy):
            enter(gate, PROVIDER)


class Holders:
    """Threads that each hold a place until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def hold(self, gate: Admission, tenant: str, *, wait_inside: bool = True) -> None:
        inside = threading.Event()

        def run() -> None:
            with gate.admit(who(tenant)):
                inside.set()
                self.release.wait(5)

        self.threads.append(threading.Thread(target=run))
        self.threads[-1].start()
        if wait_inside:
            assert inside.wait(5)


@pytest.fixture
def holders() -> Iterator[Holders]:
    found = Holders()
    yield found
    found.release.set()
    for thread in found.threads:
        thread.join(5)


def test_a_request_waits_for_a_place_freed_within_the_wait(holders: Holders) -> None:
    gate = admission(running=1, per_tenant=1, provider=1, wait=5)
    holders.hold(gate, "a")
    threading.Timer(0.2, holders.release.set).start()
    started = time.monotonic()
    with gate.admit(who("b")):
        assert 0.1 < time.monotonic() - started < 4


def test_a_wait_is_bounded(holders: Holders) -> None:
    gate = admission(running=1, per_tenant=1, provider=1, wait=0.2)
    holders.hold(gate, "a")
    started = time.monotonic()
    with pytest.raises(ServiceBusy):
        enter(gate, "a")
    assert 0.15 < time.monotonic() - started < 2


def test_a_tenant_cannot_queue_more_than_it_may_run(holders: Holders) -> None:
    """Waiting requests hold worker threads: a tenant may have only as many waiting as running."""
    gate = admission(running=4, per_tenant=1, provider=4, wait=5)
    holders.hold(gate, "a")
    holders.hold(gate, "a", wait_inside=False)  # waits for the first one's place
    deadline = time.monotonic() + 5
    while not gate._waiting.get("a") and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(ServiceBusy):
        enter(gate, "a")
    assert time.monotonic() - started < 1  # refused at once, not after the wait


@pytest.mark.parametrize("field", ["running", "per_tenant", "provider"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(InvalidArgument, match=field):
        AdmissionLimits(**{field: 0})  # type: ignore[arg-type]


def test_load_limits_from_the_environment_take_ascii_numbers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from openmps.app import Capacity
    from openmps.errors import InvalidOperation

    monkeypatch.setenv("OPENMPS_MAX_REQUESTS", "12")
    monkeypatch.setenv("OPENMPS_BUSY_TIMEOUT", "2.5")
    capacity = Capacity.from_env()
    assert (capacity.admission.running, capacity.busy_timeout) == (12, 2.5)
    for name, wrong in (
        ("OPENMPS_MAX_REQUESTS", "1_000"),
        ("OPENMPS_MAX_REQUESTS", "١٢"),
        ("OPENMPS_BUSY_TIMEOUT", "inf"),
    ):
        monkeypatch.setenv(name, wrong)
        with pytest.raises(InvalidOperation, match=name):
            Capacity.from_env()
        monkeypatch.delenv(name)
