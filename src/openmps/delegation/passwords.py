"""Password policy and hashing.

Policy (AD's default complexity rule, documented in docs/security.md): 8–256 characters, at least
three of upper case, lower case, digits and other characters, and not containing the account's
name.  Hashes are Argon2id in the PHC string format, stored as ``{ARGON2}<phc>`` in
``userPassword`` — the scheme OpenLDAP's argon2 module reads, so a real LDAP backend can bind with
the same hashes.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from openmps.errors import PasswordPolicyViolation
from openmps.types import Secret

SCHEME = "{ARGON2}"
MIN_LENGTH = 8
MAX_LENGTH = 256


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

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
        return SCHEME + self._hasher.hash(password.reveal())

    def verify_nothing(self, password: str) -> None:
        """Spend what a verification costs, for unknown accounts: answers take the same time."""
        if self._decoy is None:
            self._decoy = self._hasher.hash("decoy password, never valid")
        self.verify(SCHEME + self._decoy, password)

    def verify(self, stored: str | None, password: str) -> bool:
        if not stored or not stored.startswith(SCHEME):
            return False
        try:
            return self._hasher.verify(stored[len(SCHEME) :], password)
        except (VerificationError, InvalidHashError):
            return False
