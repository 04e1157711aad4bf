"""The deployment's key for the secrets sync keeps (bind passwords): a private file in its home.

The store holds only Fernet tokens (AES-CBC + HMAC), so the database, its backups and the audit
never hold a bind password in clear; the key file (``sync.key``, 0600) is created at its first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from openmps.errors import InvalidOperation
from openmps.types import Secret

KEY_FILE = "sync.key"


class SecretBox:
    """Encrypts and decrypts with the key in ``home``; without a home nothing can be kept."""

    def __init__(self, home: Path | None) -> None:
        self._home = home
        self._fernet: Fernet | None = None

    def _key(self) -> Fernet:
        if self._fernet is None:
            if self._home is None:
                raise InvalidOperation("this deployment has no home folder to keep a secret's key in")
            path = self._home / KEY_FILE
            try:  # O_EXCL: two workers creating it at once agree on the first one's key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key())
            self._fernet = Fernet(path.read_bytes().strip())
        return self._fernet

    def seal(self, secret: Secret) -> str:
        return self._key().encrypt(secret.reveal().encode()).decode("ascii")

    def open(self, token: str) -> Secret:
        try:
            return Secret(self._key().decrypt(token.encode("ascii")).decode())
        except InvalidToken:
            raise InvalidOperation(
                f"the stored bind password cannot be read with this deployment's {KEY_FILE}:"
                " set the connection again"
            ) from None
