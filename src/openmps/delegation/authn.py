"""Authentication: a UPN and a password checked against the directory, giving a Caller and its token.

Verifying an Argon2 hash costs tens of milliseconds by design, so a successful verification is
remembered for a short time (keyed by a keyed hash of UPN and password, never the password
itself); a changed password or a disabled account takes effect within ``ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable

from openmps.delegation.passwords import Passwords
from openmps.directory.service import DirectoryService
from openmps.engine.context import Caller
from openmps.errors import NotAuthenticated
from openmps.types import DN, Upn

ACCOUNT_DISABLED = 0x2


class Authenticator:
    def __init__(
        self,
        read_directory: Callable[[Callable[[DirectoryService], Caller]], Caller],
        passwords: Passwords,
        *,
        ttl: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        self._read = read_directory
        self._passwords = passwords
        self._ttl = ttl
        self._max = max_entries
        self._key = os.urandom(32)
        self._cache: dict[bytes, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def _key_of(self, upn: str, password: str) -> bytes:
        return hmac.new(self._key, f"{upn.casefold()}\0{password}".encode(), hashlib.sha256).digest()

    def cached(self, upn: str, password: str) -> Caller | None:
        """The Caller of a sign-in verified less than ``ttl`` seconds ago, without touching the store."""
        with self._lock:
            hit = self._cache.get(self._key_of(upn, password))
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def authenticate(self, upn: str, password: str) -> Caller:
        failure = NotAuthenticated("logon failure: unknown user name or bad password")
        try:
            Upn.parse(upn)
        except Exception:
            raise failure from None
        hit = self.cached(upn, password)
        if hit is not None:
            return hit
        key = self._key_of(upn, password)
        now = time.monotonic()

        def check(directory: DirectoryService) -> Caller:
            holder = directory.backend.holder("userPrincipalName", upn)
            entry = directory.find(holder) if holder else None
            if entry is None:
                self._passwords.verify_nothing(password)  # as slow as a real check: no user probing
                raise failure
            if not self._passwords.verify(entry.first("userPassword"), password):
                raise failure
            if int(entry.first("userAccountControl") or "0") & ACCOUNT_DISABLED:
                raise failure
            return caller_for(directory, entry.dn)

        caller = self._read(check)
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = (now + self._ttl, caller)
        return caller


def caller_for(directory: DirectoryService, dn: DN) -> Caller:
    """The Caller of a directory principal, with its current token."""
    entry = directory.get(dn)
    return Caller(
        name=entry.first("userPrincipalName") or str(dn),
        dn=dn,
        sid=entry.sid,
        token=directory.token_of(entry),
    )
