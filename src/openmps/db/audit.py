"""The audit log in the store, written in its own short transaction after each request."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import Engine, bindparam, insert, select

from openmps.db.prepared import Prepared
from openmps.db.schema import audit_log
from openmps.db.store import SqlUnitOfWork
from openmps.engine.audit import AuditRecord

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


class SqlAuditSink:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, record: AuditRecord, uow: object | None = None) -> None:
        row = {f.name: getattr(record, f.name) for f in fields(record)}  # asdict() deep-copies: slow
        row["procedures"] = ",".join(record.procedures)
        if isinstance(uow, SqlUnitOfWork):
            _P_INSERT.execute(uow.connection, row)
            return
        with self._engine.begin() as conn:
            conn.execute(_INSERT, row)

    def recent(self, limit: int = 50) -> list[AuditRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
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
