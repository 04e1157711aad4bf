"""The audit record of a request: who, what, outcome, how long — never a secret or a request body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    at: datetime
    caller: str
    procedures: tuple[str, ...]  # "Namespace::Procedure", nested calls included, in order
    outcome: str  # "success" | "failure", or "dry-run success" | "dry-run failure"
    duration_ms: float
    error_code: str | None = None
    error_description: str | None = None
    client: str | None = None


class AuditSink(Protocol):
    def write(self, record: AuditRecord, uow: object | None = None) -> None:
        """Persist ``record``: inside ``uow`` for a request about to commit (a change is never
        committed unaudited), or in a transaction of its own after a rollback."""
        ...
