"""The audit log in the store, written in its own short transaction after each request."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Engine, insert, select

from openmps.db.schema import audit_log
from openmps.engine.audit import AuditRecord


class SqlAuditSink:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, record: AuditRecord) -> None:
        row = asdict(record)
        row["procedures"] = ",".join(record.procedures)
        with self._engine.begin() as conn:
            conn.execute(insert(audit_log), row)

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
