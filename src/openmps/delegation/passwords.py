"""Password policy and hashing.

Policy (AD's default complexity rule, documented in docs/security.md): 8–256 characters, at least
three of upper case, lower case, digits and other characters, and not containing the account's
name.  Hashes are Argon2id in the PHC string format, stored as ``{ARGON2}<phc>`` in
``userPassword`` — the scheme OpenLDAP's argon2 module reads, so a real LDAP backend can bind with
the same hashes.  Each Argon2 computation takes the hasher's ``memory_cost`` (64 MiB by default),
so a gate lets only a few run at once, whoever asks (sign-ins, procedures hashing new passwords).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeGuard

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from openmps.errors import PasswordPolicyViolation, ServiceBusy
from openmps.types import Secret

SCHEME = "{ARGON2}"
MIN_LENGTH = 8
MAX_LENGTH = 256
HASH_SLOTS = 2  # Argon2 computations at once: 2 × 64 MiB with the default hasher
SLOT_WAIT = 60.0  # how long a procedure's hash waits for a slot before ServiceBusy


class HashGate:
    """At most ``slots`` password hashes at once; callers that bound their ``queue`` are told to
    retry (ServiceBusy) rather than wait behind that many others, so a flood of sign-ins can hold
    neither memory nor threads without bound."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a hash gate needs at least one slot")
        self.slots = slots
        self._free = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    @contextmanager
    def slot(self, *, queue: int | None = None, wait: float = SLOT_WAIT) -> Iterator[None]:
        """Hold a slot; wait at most ``wait`` seconds, behind at most ``queue`` others (None: any)."""
        if not self._free.acquire(blocking=False):
            with self._lock:
                if queue is not None and self._waiting >= queue:
                    raise ServiceBusy("too many password checks are waiting; retry shortly", retry_after=1)
                self._waiting += 1
            try:
                acquired = self._free.acquire(timeout=wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not acquired:
                raise ServiceBusy(f"no password check could start within {wait:g} s; retry shortly")
        try:
            yield
        finally:
            self._free.release()


class HashedSecret(Secret):
    """A password a procedure has checked and hashed already, in its ``prepare()`` before the
    write lock: the procedure it hands it on to (through the Python door only: XML binds plain
    secrets) stores ``hashed`` instead of hashing it again under the lock."""

    __slots__ = ("hashed",)

    def __init__(self, value: str, hashed: str) -> None:
        super().__init__(value)
        self.hashed = hashed


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None, *, slots: int = HASH_SLOTS) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None
        self.gate = HashGate(slots)

    def check_policy(self, password: Secret, *, account_names: tuple[str, ...] = ()) -> None:
        value = password.reveal()
        if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
            raise PasswordPolicyViolation(
                f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters long", rule="length"
            )
        if "\x00" in value:
            raise PasswordPolicyViolation("the password must not contain NUL characters", rule="characters")
        classes = (
            any(c.isupper() for c in value),
            any(c.islower() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
        if sum(classes) < 3:
            raise PasswordPolicyViolation(
                "the password must use three of: upper case, lower case, digits, other characters",
                rule="complexity",
            )
        lowered = value.casefold()
        for name in account_names:
            if len(name) >= 3 and name.casefold() in lowered:
                raise PasswordPolicyViolation("the password must not contain the account name", rule="name")

    def hash(self, password: Secret) -> str:
        with self.gate.slot():
            return SCHEME + self._hasher.hash(password.reveal())

    def verify_nothing(self, password: str, *, queue: int | None = None, wait: float = SLOT_WAIT) -> None:
        """Spend what a verification costs, for unknown accounts: answers take the same time."""
        if self._decoy is None:
            with self.gate.slot(queue=queue, wait=wait):
                self._decoy = self._hasher.hash("decoy password, never valid")
        self.verify(SCHEME + self._decoy, password, queue=queue, wait=wait)

    @staticmethod
    def usable(stored: str | None) -> TypeGuard[str]:
        """Whether ``stored`` is a hash a password could match (an account without one is not)."""
        return stored is not None and stored.startswith(SCHEME)

    def verify(
        self, stored: str | None, password: str, *, queue: int | None = None, wait: float = SLOT_WAIT
    ) -> bool:
        """Whether ``password`` matches ``stored``; waits for a slot of the gate (see HashGate.slot)."""
        if not self.usable(stored):
            return False
        with self.gate.slot(queue=queue, wait=wait):
            try:
                return self._hasher.verify(stored[len(SCHEME) :], password)
            except (VerificationError, InvalidHashError):
                return False
