"""Sync's state in the SQL store (tables ``sync_objects`` and ``sync_runs``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from openmps.db.schema import sync_objects, sync_runs
from openmps.sync.interface import Link, RunRecord
from openmps.syncconfig.keys import SecretBox
from openmps.syncconfig.sql import SqlSyncConfig
from openmps.syncconfig.sql import aware as _aware


class SqlSyncState:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    def links(self, org: str) -> dict[str, Link]:
        rows = self._connection().execute(select(sync_objects).where(sync_objects.c.org_guid == org))
        return {
            r.source_guid: Link(
                r.source_guid,
                r.kind,
                r.source_dn,
                r.managed_dn,
                r.state,
                r.digest,
                _aware(r.retain_until),
                r.anchor,
                _aware(r.im_until),
                frozenset(s for s in r.services.split(",") if s),
            )
            for r in rows
        }

    def forget(self, org: str, source_guid: str) -> None:
        self._connection().execute(
            delete(sync_objects).where(
                sync_objects.c.org_guid == org, sync_objects.c.source_guid == source_guid
            )
        )

    def save(self, org: str, link: Link) -> None:
        self.forget(org, link.source_guid)
        conn = self._connection()
        conn.execute(
            insert(sync_objects).values(
                org_guid=org,
                source_guid=link.source_guid,
                kind=link.kind,
                source_dn=link.source_dn,
                managed_dn=link.managed_dn,
                state=link.state,
                digest=link.digest,
                retain_until=link.retain_until,
                anchor=link.anchor,
                im_until=link.im_until,
                services=",".join(sorted(link.services)),
            )
        )

    def record_run(
        self, org: str, *, started: datetime, finished: datetime, preview: bool, outcome: str, report: str
    ) -> int:
        result = self._connection().execute(
            insert(sync_runs).values(
                org_guid=org,
                started=started,
                finished=finished,
                preview=int(preview),
                outcome=outcome,
                report=report,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]:
        return SqlSyncConfig(self._connection, SecretBox(None)).runs(org, limit=limit)
