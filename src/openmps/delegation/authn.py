"""Authentication: a UPN and a password checked against the directory, giving a Caller and its token.

Every request reads its account and its groups again (two indexed reads in a read-only unit of
work), so deleting, disabling or demoting an account, or changing its password, ends what its
credentials can do on the next request, on every process that shares the store.  Only the costly
part, the Argon2 verification, is remembered for ``SignInPolicy.verified_ttl``: keyed by a keyed
hash of the UPN, the password and the stored hash, so a changed hash simply misses.

Guessing is throttled (``SignInPolicy``): failed sign-ins lock an account name for a while and
slow down an address, whether or not the account exists, and at most ``Passwords.gate``'s slots
verify at once; failed verifications go to the audit log.  docs/security.md, "Sign-in, revocation
and lockout", is the description of record.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil
from typing import Protocol, TypeVar

from openmps.delegation.bootstrap import InitialPassword
from openmps.delegation.passwords import Passwords
from openmps.directory import acl
from openmps.directory.interface import Entry
from openmps.directory.service import DirectoryService
from openmps.engine.audit import AuditRecord, AuditSink, RequestObserver, tell
from openmps.engine.context import Caller
from openmps.errors import NotAuthenticated, SignInThrottled
from openmps.types import Upn

T = TypeVar("T")
log = logging.getLogger("openmps.authn")

ACCOUNT_DISABLED = 0x2
FAILURE = "logon failure: unknown user name or bad password"
SIGN_IN_FAILURE = "sign-in failure"  # the audit record's outcome
ACCOUNT_ATTRIBUTES = ("userPrincipalName", "userPassword", "userAccountControl")
MAX_AUDITED_NAME = 256  # a hostile UPN is cut to this in the audit log


@dataclass(frozen=True)
class SignInPolicy:
    """Limits on sign-in, per process (docs/security.md, "Sign-in, revocation and lockout").

    Counters live in memory, not in the store: writing one per failed guess would hand an attacker
    the store's write lock.  With several processes each keeps its own, so a cluster of n allows
    n times the rates below.
    """

    lockout_threshold: int = 10  # failed sign-ins of one account name within lockout_window …
    lockout_window: float = 600.0
    lockout_duration: float = 900.0  # … lock the name this long (seconds)
    address_failures: int = 30  # failed sign-ins from one address within address_window …
    address_window: float = 60.0  # … and its further sign-ins wait until the window has room
    hash_queue: int = 8  # sign-ins that may wait for a verification slot; more are told to retry
    hash_wait: float = 2.0  # the longest such wait (seconds)
    verified_ttl: float = 300.0  # how long a verified password is remembered
    max_entries: int = 100_000  # remembered verifications, names and addresses, each


class Clock(Protocol):
    def __call__(self) -> float: ...


class ReadDirectory(Protocol):
    """Runs ``work`` on a read-only view of the directory (``Deployment.read``)."""

    def __call__(self, work: Callable[[DirectoryService], T]) -> T: ...


@dataclass(frozen=True)
class _Account:
    entry: Entry  # ACCOUNT_ATTRIBUTES only
    groups: frozenset[str]  # the SIDs of its groups, nested ones too


def _read_account(upn: str) -> Callable[[DirectoryService], _Account | None]:
    """The account holding ``upn`` and its groups: two indexed reads, the same snapshot."""

    def read(directory: DirectoryService) -> _Account | None:
        try:
            Upn.parse(upn)
        except Exception:
            return None  # malformed: answered as an unknown name, decoy verification included
        entry = directory.find_holder("userPrincipalName", upn, attributes=ACCOUNT_ATTRIBUTES)
        return None if entry is None else _Account(entry, directory.token_groups(entry.dn))

    return read


class _Failures:
    """Failed sign-ins per key within a sliding window, and until when each key is blocked.

    Bounded: past ``max_entries`` keys the stalest are forgotten (an attacker spraying names makes
    the table forget, never grow)."""

    def __init__(self, *, limit: int, window: float, block: float | None, max_entries: int) -> None:
        self._limit = limit
        self._window = window
        self._block = block  # None: blocked until the oldest failure leaves the window (a rate)
        self._max = max_entries
        self._times: OrderedDict[bytes, list[float]] = OrderedDict()
        self._until: dict[bytes, float] = {}

    def blocked_for(self, key: bytes, now: float) -> float:
        """Seconds ``key`` is still blocked (0 when it is not)."""
        until = self._until.get(key, 0.0)
        if until <= now:
            self._until.pop(key, None)
            return 0.0
        return until - now

    def record(self, key: bytes, now: float) -> bool:
        """Count a failure; True when it blocks ``key``."""
        times = [t for t in self._times.pop(key, []) if t > now - self._window]
        times.append(now)
        self._times[key] = times  # most recently failed last
        while len(self._times) > self._max:
            stale, _ = self._times.popitem(last=False)
            self._until.pop(stale, None)
        if len(times) < self._limit:
            return False
        self._until.pop(key, None)  # re-inserted last: the dict stays ordered by when blocks began
        self._until[key] = (
            now + self._block if self._block is not None else times[-self._limit] + self._window
        )
        if self._block is not None:
            del self._times[key]  # a lock starts a new count once it ends
        if len(self._until) > self._max:  # forget ended blocks, else the oldest
            ended = [k for k, until in self._until.items() if until <= now]
            for stale in ended or [next(iter(self._until))]:
                del self._until[stale]
        return True

    def clear(self, key: bytes) -> None:
        self._times.pop(key, None)
        self._until.pop(key, None)


class Authenticator:
    def __init__(
        self,
        read_directory: ReadDirectory,
        passwords: Passwords,
        *,
        policy: SignInPolicy | None = None,
        audit: AuditSink | None = None,
        initial_password: InitialPassword | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._read = read_directory
        self._passwords = passwords
        self.policy = policy = policy or SignInPolicy()
        self._audit = audit
        self.observers: list[RequestObserver] = []  # told of each failed sign-in, as requests are
        self._initial_password = initial_password
        self._clock = clock
        self._key = os.urandom(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()  # key → when it expires
        self._accounts = _Failures(
            limit=policy.lockout_threshold,
            window=policy.lockout_window,
            block=policy.lockout_duration,
            max_entries=policy.max_entries,
        )
        self._addresses = _Failures(
            limit=policy.address_failures,
            window=policy.address_window,
            block=None,
            max_entries=policy.max_entries,
        )
        self._lock = threading.Lock()

    def _digest(self, *parts: str) -> bytes:
        return hmac.new(self._key, "\0".join(parts).encode(), hashlib.sha256).digest()

    def authenticate(self, upn: str, password: str, *, client: str | None = None) -> Caller:
        """The Caller of a UPN and password, with its token as the store holds it now.

        NotAuthenticated for any wrong, unknown, disabled or malformed account, all alike;
        SignInThrottled while the account name or the address ``client`` is locked out;
        ServiceBusy when too many sign-ins wait for a verification slot.
        """
        now = self._clock()
        name = upn.casefold()
        account_key = self._digest("account", name)
        address_key = self._digest("address", client) if client else None
        with self._lock:
            if address_key is not None:
                wait = self._addresses.blocked_for(address_key, now)
                if wait:
                    raise SignInThrottled(
                        f"too many failed sign-ins from this address; retry in {ceil(wait)} s",
                        retry_after=ceil(wait),
                    )

        account = self._read(_read_account(upn))
        entry = account.entry if account is not None else None
        stored = entry.first("userPassword") if entry is not None else None
        verified = self._digest("verified", name, password, stored or "")
        with self._lock:
            remembered = stored is not None and self._verified.get(verified, 0.0) > now
            locked = 0.0 if remembered else self._accounts.blocked_for(account_key, now)
        if locked:
            # no verification while locked, for known and unknown names alike; a client whose
            # password was verified lately proves it without a guess and is let through
            raise SignInThrottled(
                f"too many failed sign-ins for this account; retry in {ceil(locked)} s",
                retry_after=ceil(locked),
            )
        if not remembered:
            # outside the read's transaction: no connection is held while Argon2 runs
            queue, wait = self.policy.hash_queue, self.policy.hash_wait
            if entry is None or not self._passwords.usable(stored):
                # as slow as a real check: an unknown name answers as a wrong password does
                self._passwords.verify_nothing(password, queue=queue, wait=wait)
                raise self._failed(upn, account_key, address_key, now, client)
            if not self._passwords.verify(stored, password, queue=queue, wait=wait):
                raise self._failed(upn, account_key, address_key, now, client)
        assert account is not None and entry is not None
        if int(entry.first("userAccountControl") or "0") & ACCOUNT_DISABLED:
            with self._lock:  # its next attempts go through the lockout and the hash gate again
                self._verified.pop(verified, None)
            raise self._failed(upn, account_key, address_key, now, client)
        if not remembered:
            with self._lock:
                self._accounts.clear(account_key)
                self._remember(verified, now)
            if self._initial_password is not None:
                self._initial_password.signed_in(entry.dn)
        return Caller(
            name=entry.first("userPrincipalName") or str(entry.dn),
            dn=entry.dn,
            sid=entry.sid,
            token=frozenset({entry.sid, acl.EVERYONE, acl.AUTHENTICATED_USERS}) | account.groups,
        )

    def _remember(self, verified: bytes, now: float) -> None:
        self._verified.pop(verified, None)
        self._verified[verified] = now + self.policy.verified_ttl
        while len(self._verified) > self.policy.max_entries:
            self._verified.popitem(last=False)

    def _failed(
        self, upn: str, account_key: bytes, address_key: bytes | None, now: float, client: str | None
    ) -> NotAuthenticated:
        """Count a failed sign-in against the name and the address, audit it; the error to raise."""
        with self._lock:
            locked = self._accounts.record(account_key, now)
            blocked = address_key is not None and self._addresses.record(address_key, now)
        description = FAILURE
        if locked:
            description += f"; the account name is locked for {self.policy.lockout_duration:g} s"
        if blocked:
            description += f"; the address is refused for up to {self.policy.address_window:g} s"
        self._write_audit(upn, description, client)
        return NotAuthenticated(FAILURE)

    def _write_audit(self, upn: str, description: str, client: str | None) -> None:
        record = AuditRecord(
            request_id=str(uuid.uuid4()),
            at=datetime.now(UTC),
            caller=upn[:MAX_AUDITED_NAME],
            procedures=(),
            outcome=SIGN_IN_FAILURE,
            duration_ms=0.0,
            error_code=f"0x{NotAuthenticated.code:08X}",
            error_description=description,
            client=client,
        )
        try:
            if self._audit is not None:
                self._audit.write(record)
        except Exception:  # a busy store must not turn a refused sign-in into an internal error
            log.exception("could not write the audit record of a failed sign-in")
        tell(self.observers, record)
