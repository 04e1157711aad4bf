"""The audit record of a request: who, what, outcome, how long — never a secret or a request body."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

log = logging.getLogger("openmps.audit")


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


RequestObserver = Callable[[AuditRecord], None]
"""Told of each request once it has ended (committed, rolled back or refused at sign-in), with its
audit record: the access log and the metrics of a door watch this way."""


def tell(observers: list[RequestObserver], record: AuditRecord) -> None:
    """Tell every observer; one that fails is logged and never changes the request's answer."""
    for observe in observers:
        try:
            observe(record)
        except Exception:
            log.exception("an observer of request %s failed", record.request_id)


class AuditSink(Protocol):
    def write(self, record: AuditRecord, uow: object | None = None) -> None:
        """Persist ``record``: inside ``uow`` for a request about to commit (a change is never
        committed unaudited), or in a transaction of its own after a rollback."""
        ...
