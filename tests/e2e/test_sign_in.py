"""Sign-in: revocation on the next request (on every process sharing the store), the verified-password
cache and its expiry, lockout per account name, throttling per address, the bound on concurrent
password hashes, and failed sign-ins in the audit log (docs/security.md, "Sign-in, revocation and
lockout")."""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from lxml import etree

from openmps.app import Deployment, open_deployment
from openmps.delegation.authn import FAILURE, SIGN_IN_FAILURE, Authenticator, SignInPolicy
from openmps.delegation.passwords import Passwords
from openmps.directory.interface import Change
from openmps.engine.context import Caller
from openmps.errors import NotAuthenticated, ServiceBusy, SignInThrottled
from openmps.types import DN, Secret
from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    AsgiClient,
    create_user,
    fast_passwords,
    he,
    make_alpineskihouse,
    ok,
    org_path,
)

ORG = org_path("WH", "alpineskihouse")
BOSS = "boss@alpineskihouse.com"
BOSS_DN = DN.from_path(ORG).child("CN", BOSS)
ADMINS = "CN=Admins@alpineskihouse,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com"
WRONG = "Wr0ng-Passw0rd!"
THROTTLED = "0x80070775"
ADMIN_UPN = "administrator@fabrikam.com"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def org(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment)
    create_user(deployment, ORG, BOSS, admin=True)
    return deployment


@pytest.fixture
def other_node(org: Deployment) -> Deployment:
    """A second process's view of the same store: revocations are made there."""
    assert org.home is not None
    return open_deployment(org.home, passwords=fast_passwords())


def authenticator(d: Deployment, clock: Clock, **policy: Any) -> Authenticator:
    return Authenticator(d.read, d.passwords, policy=SignInPolicy(**policy), audit=d.audit, clock=clock)


def counted_verifications(d: Deployment) -> list[str]:
    """Every Argon2 verification (real or decoy) ``d``'s password checker runs from now on."""
    calls: list[str] = []
    original = d.passwords.verify

    def counting(stored: str | None, password: str, **gate: Any) -> bool:
        calls.append(password)
        return original(stored, password, **gate)

    d.passwords.verify = counting  # type: ignore[method-assign]
    return calls


def refused(sign_in: Authenticator, upn: str, password: str, **kwargs: Any) -> NotAuthenticated:
    with pytest.raises(NotAuthenticated) as info:
        sign_in.authenticate(upn, password, **kwargs)
    assert type(info.value) is NotAuthenticated and info.value.description == FAILURE
    return info.value


def throttled(sign_in: Authenticator, upn: str, password: str, **kwargs: Any) -> SignInThrottled:
    with pytest.raises(SignInThrottled) as info:
        sign_in.authenticate(upn, password, **kwargs)
    assert info.value.hex_code == THROTTLED and info.value.http_status == 429
    assert info.value.retry_after >= 1
    return info.value


def create_as(d: Deployment, caller: Caller, upn: str) -> etree._Element | None:
    """CreateBusinessUser as ``caller``: the response, or None when it was refused."""
    outcome = d.submit(he("CreateBusinessUser", container=ORG, userPrincipalName=upn, isAdmin=True), caller)
    return outcome.response if outcome.error is None else None


# --- revocation ----------------------------------------------------------------------------------


def test_a_deleted_account_is_refused_on_the_next_request(org: Deployment, other_node: Deployment) -> None:
    caller = org.authenticator.authenticate(BOSS, USER_PASSWORD)
    assert create_as(org, caller, "one@alpineskihouse.com") is not None
    ok(other_node.submit(he("DeleteBusinessUser", path=BOSS_DN.ldap_path)))
    refused(org.authenticator, BOSS, USER_PASSWORD)


def test_a_disabled_account_is_refused_on_the_next_request(org: Deployment, other_node: Deployment) -> None:
    org.authenticator.authenticate(BOSS, USER_PASSWORD)
    with other_node.transaction() as providers:
        providers.directory.modify(BOSS_DN, [Change.replace("userAccountControl", "514")])
    refused(org.authenticator, BOSS, USER_PASSWORD)


def test_a_demoted_account_loses_its_role_on_the_next_request(
    org: Deployment, other_node: Deployment
) -> None:
    admins_sid = org.read(lambda d: d.get(DN.parse(ADMINS)).sid)
    before = org.authenticator.authenticate(BOSS, USER_PASSWORD)
    assert admins_sid in before.token
    with other_node.transaction() as providers:
        providers.directory.modify(DN.parse(ADMINS), [Change.delete("member", str(BOSS_DN))])
    after = org.authenticator.authenticate(BOSS, USER_PASSWORD)
    assert admins_sid not in after.token
    assert create_as(org, after, "two@alpineskihouse.com") is None


def test_a_changed_password_ends_the_old_one_on_the_next_request(
    org: Deployment, other_node: Deployment
) -> None:
    org.authenticator.authenticate(BOSS, USER_PASSWORD)
    new = "N3w-Passw0rd!"
    with other_node.transaction() as providers:
        stored = providers.passwords.hash(Secret(new))
        providers.directory.modify(BOSS_DN, [Change.replace("userPassword", stored)])
    refused(org.authenticator, BOSS, USER_PASSWORD)
    assert org.authenticator.authenticate(BOSS, new).dn == BOSS_DN


def test_a_deleted_admin_is_refused_over_http(org: Deployment, other_node: Deployment) -> None:
    client = AsgiClient(create_app(org))
    document = he("CreateBusinessUser", container=ORG, userPrincipalName="x@alpineskihouse.com", isAdmin=True)
    first = client.post("/provisioning", content=document, auth=(BOSS, USER_PASSWORD))
    assert first.status_code == 200  # type: ignore[attr-defined]
    ok(other_node.submit(he("DeleteBusinessUser", path=BOSS_DN.ldap_path)))
    again = document.replace("x@", "y@")
    second = client.post("/provisioning", content=again, auth=(BOSS, USER_PASSWORD))
    assert second.status_code == 401  # type: ignore[attr-defined]
    users = other_node.read(lambda d: d.holder("userPrincipalName", "y@alpineskihouse.com"))
    assert users is None


# --- the verified-password cache -----------------------------------------------------------------


def test_a_verified_password_is_remembered_until_its_ttl(org: Deployment) -> None:
    clock = Clock()
    sign_in = authenticator(org, clock, verified_ttl=60.0)
    calls = counted_verifications(org)
    sign_in.authenticate(BOSS, USER_PASSWORD)
    clock.now += 59.0
    sign_in.authenticate(BOSS, USER_PASSWORD)
    assert len(calls) == 1  # remembered: no second Argon2 check
    clock.now += 2.0
    sign_in.authenticate(BOSS, USER_PASSWORD)
    assert len(calls) == 2  # expired: verified again
    refused(sign_in, BOSS, WRONG)  # a remembered password never lets another one in
    assert len(calls) == 3


# --- lockout and throttling ----------------------------------------------------------------------


@pytest.mark.parametrize("upn", [BOSS, "nobody@alpineskihouse.com"], ids=["known", "unknown"])
def test_failures_lock_the_account_name_known_or_not(org: Deployment, upn: str) -> None:
    clock = Clock()
    sign_in = authenticator(org, clock, lockout_threshold=3, lockout_window=60.0, lockout_duration=300.0)
    calls = counted_verifications(org)
    for _ in range(3):
        refused(sign_in, upn, WRONG)
        clock.now += 1.0
    assert len(calls) == 3
    error = throttled(sign_in, upn, USER_PASSWORD)  # even the right password, unverified
    assert error.description == "too many failed sign-ins for this account; retry in 299 s"
    assert error.retry_after == 299
    assert len(calls) == 3
    sign_in.authenticate(ADMIN_UPN, ADMIN_PASSWORD)  # other accounts are not affected
    clock.now += 299.0
    if upn == BOSS:
        assert sign_in.authenticate(upn, USER_PASSWORD).dn == BOSS_DN
    else:
        refused(sign_in, upn, USER_PASSWORD)


def test_failures_outside_the_window_do_not_lock(org: Deployment) -> None:
    clock = Clock()
    sign_in = authenticator(org, clock, lockout_threshold=3, lockout_window=60.0)
    for _ in range(5):
        refused(sign_in, BOSS, WRONG)
        clock.now += 31.0
    assert sign_in.authenticate(BOSS, USER_PASSWORD).dn == BOSS_DN


def test_a_success_resets_the_count(org: Deployment) -> None:
    clock = Clock()
    sign_in = authenticator(org, clock, lockout_threshold=3)
    for _ in range(2):
        refused(sign_in, BOSS, WRONG)
    sign_in.authenticate(BOSS, USER_PASSWORD)
    for _ in range(2):
        refused(sign_in, BOSS, WRONG)
    sign_in.authenticate(BOSS, USER_PASSWORD)


def test_a_recently_verified_client_keeps_working_through_a_lockout(org: Deployment) -> None:
    """A lockout stops guessing; a client that proved the password lately is no guess."""
    clock = Clock()
    sign_in = authenticator(org, clock, lockout_threshold=3)
    sign_in.authenticate(BOSS, USER_PASSWORD)
    for _ in range(3):
        refused(sign_in, BOSS, WRONG)
    assert sign_in.authenticate(BOSS, USER_PASSWORD).dn == BOSS_DN
    throttled(sign_in, BOSS, WRONG)


def test_a_disabled_account_loses_its_remembered_password(org: Deployment) -> None:
    """Its client's further attempts are counted and locked out like any other failure."""
    sign_in = authenticator(org, Clock(), lockout_threshold=2)
    sign_in.authenticate(BOSS, USER_PASSWORD)
    with org.transaction() as providers:
        providers.directory.modify(BOSS_DN, [Change.replace("userAccountControl", "514")])
    refused(sign_in, BOSS, USER_PASSWORD)
    refused(sign_in, BOSS, USER_PASSWORD)
    throttled(sign_in, BOSS, USER_PASSWORD)


def test_a_spray_of_names_makes_the_counters_forget_never_grow(org: Deployment) -> None:
    sign_in = authenticator(org, Clock(), lockout_threshold=1, max_entries=3)
    names = [f"spray{i}@alpineskihouse.com" for i in range(5)]
    for upn in names:
        refused(sign_in, upn, WRONG)
    for upn in names[-3:]:
        throttled(sign_in, upn, WRONG)
    refused(sign_in, names[0], WRONG)  # the oldest lock was forgotten to keep the table bounded


def test_an_address_is_throttled_across_account_names(org: Deployment) -> None:
    clock = Clock()
    sign_in = authenticator(org, clock, address_failures=3, address_window=60.0, lockout_threshold=100)
    attacker, other = "203.0.113.9", "198.51.100.7"
    for i in range(3):
        refused(sign_in, f"guess{i}@alpineskihouse.com", WRONG, client=attacker)
        clock.now += 10.0
    error = throttled(sign_in, BOSS, USER_PASSWORD, client=attacker)
    assert error.description == "too many failed sign-ins from this address; retry in 30 s"
    assert sign_in.authenticate(BOSS, USER_PASSWORD, client=other).dn == BOSS_DN
    clock.now += 30.0  # the oldest failure has left the window
    assert sign_in.authenticate(BOSS, USER_PASSWORD, client=attacker).dn == BOSS_DN


def test_lockout_and_throttling_over_http(org: Deployment) -> None:
    org.authenticator = authenticator(org, Clock(), lockout_threshold=2)
    client = AsgiClient(create_app(org))
    document = he("GetBusinessUsers", path=ORG)
    for _ in range(2):
        r = client.post("/provisioning", content=document, auth=(BOSS, WRONG))
        assert r.status_code == 401  # type: ignore[attr-defined]
    r = client.post("/provisioning", content=document, auth=(BOSS, USER_PASSWORD))
    assert r.status_code == 429  # type: ignore[attr-defined]
    assert int(r.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    context = etree.fromstring(r.content).find("errorContext")  # type: ignore[attr-defined]
    assert context.get("code") == THROTTLED


# --- the hash gate -------------------------------------------------------------------------------


def test_waiting_sign_ins_beyond_the_queue_are_told_to_retry(org: Deployment) -> None:
    remembered = authenticator(org, Clock(), hash_queue=0)
    remembered.authenticate(BOSS, USER_PASSWORD)
    with org.passwords.gate.slot(), org.passwords.gate.slot():
        started = time.monotonic()
        with pytest.raises(ServiceBusy) as info:
            remembered.authenticate("nobody@alpineskihouse.com", WRONG)
        assert time.monotonic() - started < 1.0  # answered at once, not queued
        assert info.value.hex_code == "0x800705AA" and info.value.http_status == 503
        # a signed-in client whose password is remembered needs no slot
        assert remembered.authenticate(BOSS, USER_PASSWORD).dn == BOSS_DN


def test_a_sign_in_waits_for_a_slot_only_so_long(org: Deployment) -> None:
    sign_in = authenticator(org, Clock(), hash_queue=4, hash_wait=0.2)
    with org.passwords.gate.slot(), org.passwords.gate.slot():
        started = time.monotonic()
        with pytest.raises(ServiceBusy):
            sign_in.authenticate(BOSS, USER_PASSWORD)
        assert 0.2 <= time.monotonic() - started < 2.0
    assert sign_in.authenticate(BOSS, USER_PASSWORD).dn == BOSS_DN


class CountingHasher(PasswordHasher):
    """Argon2 at the tests' cost, counting how many verifications run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.running = self.peak = self.calls = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(0.02)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


def test_concurrent_hashes_never_exceed_the_slots(org: Deployment) -> None:
    hasher = CountingHasher()
    passwords = Passwords(hasher, slots=2)
    policy = SignInPolicy(hash_queue=100, hash_wait=30.0, lockout_threshold=1000)
    sign_in = Authenticator(org.read, passwords, policy=policy)
    outcomes: list[str] = []

    def guess(i: int) -> None:
        try:
            sign_in.authenticate(BOSS if i % 2 else "nobody@alpineskihouse.com", WRONG)
        except NotAuthenticated:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["refused"] * 12
    assert hasher.peak == 2


def test_an_account_without_a_password_costs_a_verification_too(org: Deployment) -> None:
    """No probing by timing: an account that has no hash is checked against the decoy."""
    idle = he("CreateBusinessUser", container=ORG, userPrincipalName="idle@alpineskihouse.com", isAdmin=False)
    ok(org.submit(idle))  # no password: created disabled, with no hash
    hasher = CountingHasher()
    sign_in = Authenticator(org.read, Passwords(hasher), policy=SignInPolicy())
    for upn in ("idle@alpineskihouse.com", "nobody@alpineskihouse.com", BOSS):
        before = hasher.calls
        refused(sign_in, upn, WRONG)
        assert hasher.calls == before + 1, upn


# --- the audit log -------------------------------------------------------------------------------


def test_failed_sign_ins_are_audited_without_the_password(org: Deployment) -> None:
    sign_in = authenticator(org, Clock(), lockout_threshold=2)
    refused(sign_in, BOSS, WRONG, client="203.0.113.9")
    refused(sign_in, "nobody@alpineskihouse.com", WRONG, client="203.0.113.9")
    refused(sign_in, BOSS, "An0ther-Guess!", client="198.51.100.7")
    records = [r for r in org.audit.recent(10) if r.outcome == SIGN_IN_FAILURE]
    assert [(r.caller, r.client) for r in reversed(records)] == [
        (BOSS, "203.0.113.9"),
        ("nobody@alpineskihouse.com", "203.0.113.9"),
        (BOSS, "198.51.100.7"),
    ]
    assert all(r.error_code == "0x8007052E" and r.procedures == () for r in records)
    assert records[0].error_description == FAILURE + "; the account name is locked for 900 s"
    assert records[1].error_description == FAILURE
    for record in records:
        assert WRONG not in repr(record) and "An0ther-Guess!" not in repr(record)


def test_a_successful_sign_in_writes_no_audit_record(org: Deployment) -> None:
    before = len(org.audit.recent(1000))
    org.authenticator.authenticate(BOSS, USER_PASSWORD)
    assert len(org.audit.recent(1000)) == before
