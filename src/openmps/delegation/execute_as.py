"""MPF's "execute as" (reference §1.12): which account a procedure runs as when another procedure
runs it as a service.  Stored (not remembered by a process), read at every such run."""

from __future__ import annotations

from typing import Protocol


class ExecuteAsStore(Protocol):
    """Assignments of (namespace, procedure) — the registry's spelling — to an account's
    sAMAccountName.  The credential's secret is the account's password, kept hashed by the
    directory; nothing here holds a secret."""

    def assign(self, namespace: str, procedure: str, account: str | None) -> None:
        """Run the procedure as ``account``; None: as the engine's own account again."""
        ...

    def assignments(self) -> list[tuple[str, str, str]]:
        """Every (namespace, procedure, account), by namespace and procedure."""
        ...
