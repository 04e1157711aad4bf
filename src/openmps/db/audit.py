"""The audit log in the store.

A request that commits writes its record in its own transaction (nothing commits unaudited).  Any
other record (a failure, a busy store, a dry run, a request that only read) is written on its own,
and must neither be lost nor hold up the answer: it is tried at once with a short lock wait, and
when the store is busy it joins a backlog that a thread of its own writes, retrying until it can.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from openmps.db.prepared import Prepared
from openmps.db.schema import audit_log
from openmps.db.store import SqlUnitOfWork
from openmps.engine.audit import AuditRecord
from openmps.errors import ServiceBusy

log = logging.getLogger(__name__)

_INSERT = insert(audit_log)
_COLUMNS = (
    "request_id",
    "at",
    "caller",
    "procedures",
    "outcome",
    "error_code",
    "error_description",
    "duration_ms",
    "client",
)
# The hot path (every successful request): prepared (the timestamp goes through the dialect's
# bind processor, so SQLAlchemy reads it back as a datetime).
_P_INSERT = Prepared(insert(audit_log).values({c: bindparam(c) for c in _COLUMNS}))
# How long the answer to a failed request may wait for the lock to write its record itself.
QUICK_WAIT_MS = 200
EXIT_WAIT = 30.0  # how long a process that is ending waits for its backlog
_BUSY = (ServiceBusy, SQLAlchemyError)


class SqlAuditSink:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._backlog: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None

    def write(self, record: AuditRecord, uow: object | None = None) -> None:
        row = {f.name: getattr(record, f.name) for f in fields(record)}  # asdict() deep-copies: slow
        row["procedures"] = ",".join(record.procedures)
        # In the request's transaction only when that joins it at no cost: a request that only read
        # holds no lock, and its record must not make it a writer (or a conflict) at the end.
        if isinstance(uow, SqlUnitOfWork) and uow.holds_write_lock():
            _P_INSERT.execute(uow.connection, row)
            return
        with self._lock:
            queued = bool(self._backlog)
            if queued:  # keep the order: behind what waits already
                self._backlog.append(row)
        if not queued:
            try:
                self._insert(row, quick=True)
                return
            except _BUSY:
                log.info("the store is busy: audit record %s joins the backlog", row["request_id"])
            with self._lock:
                self._backlog.append(row)
        self._start_writer()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the backlog is written; whether it was within ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._backlog, timeout)

    def pending(self) -> int:
        with self._lock:
            return len(self._backlog)

    def _insert(self, row: dict[str, Any], *, quick: bool) -> None:
        with self._engine.connect() as conn:
            raw = conn.connection.driver_connection if quick and conn.dialect.name == "sqlite" else None
            if raw is not None:  # on the DBAPI connection: before SQLAlchemy's BEGIN IMMEDIATE
                usual = raw.execute("PRAGMA busy_timeout").fetchone()[0]
                raw.execute(f"PRAGMA busy_timeout={QUICK_WAIT_MS}")
            try:
                with conn.begin():
                    conn.execute(_INSERT, row)
            finally:
                if raw is not None:
                    raw.execute(f"PRAGMA busy_timeout={usual}")

    def _start_writer(self) -> None:
        with self._lock:
            if self._writer is None and self._backlog:
                self._writer = threading.Thread(target=self._drain, name="audit backlog", daemon=True)
                self._writer.start()
                # a short-lived process (openmps submit) must not exit with records unwritten
                atexit.register(self.flush, EXIT_WAIT)

    def _drain(self) -> None:
        pause = 0.05
        while True:
            with self._lock:
                if not self._backlog:
                    self._writer = None
                    self._idle.notify_all()
                    atexit.unregister(self.flush)
                    return
                row = self._backlog[0]
            try:
                self._insert(row, quick=False)
            except Exception:
                log.warning("audit record %s not written yet; retrying", row["request_id"], exc_info=True)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
                continue
            pause = 0.05
            with self._lock:
                self._backlog.popleft()

    def recent(self, limit: int = 50) -> list[AuditRecord]:
        return self.search(limit=limit)

    def search(
        self,
        *,
        limit: int = 50,
        caller: str | None = None,
        procedure: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditRecord]:
        """The newest records first, of ``caller`` (its name, any case), with a procedure whose
        name holds ``procedure`` (any case: "CreateBusinessUser", "Hosted Exchange::"), with
        ``outcome`` ("success", "failure", "sign-in failure", …), at or after ``since`` and before
        ``until``."""
        self.flush(timeout=30)
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if caller is not None:
            query = query.where(func.lower(audit_log.c.caller) == caller.lower())
        if procedure is not None:
            named = func.lower(audit_log.c.procedures)
            query = query.where(named.contains(procedure.lower(), autoescape=True))
        if outcome is not None:
            query = query.where(audit_log.c.outcome == outcome)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRecord(
                request_id=r.request_id,
                at=r.at,
                caller=r.caller,
                procedures=tuple(p for p in r.procedures.split(",") if p),
                outcome=r.outcome,
                duration_ms=r.duration_ms,
                error_code=r.error_code,
                error_description=r.error_description,
                client=r.client,
            )
            for r in rows
        ]
