"""The sync configuration in the SQL store (``sync_configs``, ``mailbox_holds``; ``sync_runs`` and
``sync_pending`` read)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update

from openmps.db.schema import mailbox_holds, sync_configs, sync_objects, sync_pending, sync_runs
from openmps.syncconfig.interface import Connection as SourceConnection
from openmps.syncconfig.interface import Hold, Link, PendingObject, RunRecord, SyncConfig, SyncRules
from openmps.syncconfig.keys import SecretBox
from openmps.types import Secret

_CHUNK = 500  # objectGUIDs per query when links are read by them


def aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


class SqlSyncConfig:
    def __init__(self, connection: Callable[[], Connection], box: SecretBox) -> None:
        self._connection = connection
        self._box = box

    def _row(self, org: str):  # type: ignore[no-untyped-def]
        return self._connection().execute(select(sync_configs).where(sync_configs.c.org_guid == org)).first()

    def config(self, org: str) -> SyncConfig:
        row = self._row(org)
        if row is None:
            return SyncConfig()
        connection = None
        if row.source_url is not None:
            connection = SourceConnection(
                row.source_url,
                row.bind_dn or "",
                bool(row.start_tls),
                tuple(json.loads(row.include_ous)),
                tuple(json.loads(row.exclude_ous)),
                row.ca_certificate or "",
            )
        return SyncConfig(connection, SyncRules.from_json(row.rules))

    def _upsert(self, org: str, **values: object) -> None:
        conn = self._connection()
        if self._row(org) is None:
            conn.execute(
                insert(sync_configs).values({"rules": SyncRules().to_json(), **values, "org_guid": org})
            )
        else:
            conn.execute(update(sync_configs).where(sync_configs.c.org_guid == org).values(**values))

    def set_connection(self, org: str, connection: SourceConnection, password: Secret) -> None:
        self._upsert(
            org,
            source_url=connection.url,
            bind_dn=connection.bind_dn,
            bind_password=self._box.seal(password),
            start_tls=int(connection.start_tls),
            include_ous=json.dumps(list(connection.include_ous)),
            exclude_ous=json.dumps(list(connection.exclude_ous)),
            ca_certificate=connection.ca_certificate or None,
        )

    def remove_connection(self, org: str) -> bool:
        row = self._row(org)
        if row is None or row.source_url is None:
            return False
        self._upsert(
            org,
            source_url=None,
            bind_dn=None,
            bind_password=None,
            include_ous="[]",
            exclude_ous="[]",
            ca_certificate=None,
        )
        return True

    def connected(self) -> list[str]:
        rows = self._connection().execute(
            select(sync_configs.c.org_guid)
            .where(sync_configs.c.source_url.is_not(None), sync_configs.c.bind_password.is_not(None))
            .order_by(sync_configs.c.org_guid)
        )
        return [str(r.org_guid) for r in rows]

    def password(self, org: str) -> Secret | None:
        row = self._row(org)
        return None if row is None or row.bind_password is None else self._box.open(row.bind_password)

    def set_rules(self, org: str, rules: SyncRules) -> None:
        self._upsert(org, rules=rules.to_json())

    def holds(self, org: str) -> dict[str, Hold]:
        rows = self._connection().execute(select(mailbox_holds).where(mailbox_holds.c.org_guid == org))
        return {r.user_guid: Hold(r.user_guid, aware(r.since) or r.since, r.reason) for r in rows}

    def hold(self, org: str, user_guid: str, reason: str) -> None:
        self.release(user_guid)
        self._connection().execute(
            insert(mailbox_holds).values(
                user_guid=user_guid, org_guid=org, since=datetime.now(UTC), reason=reason
            )
        )

    def release(self, user_guid: str) -> bool:
        done = self._connection().execute(delete(mailbox_holds).where(mailbox_holds.c.user_guid == user_guid))
        return bool(done.rowcount)

    def runs(self, org: str, *, limit: int = 10) -> list[RunRecord]:
        rows = self._connection().execute(
            select(sync_runs).where(sync_runs.c.org_guid == org).order_by(sync_runs.c.id.desc()).limit(limit)
        )
        return [
            RunRecord(
                r.id,
                aware(r.started) or r.started,
                aware(r.finished) or r.finished,
                bool(r.preview),
                r.outcome,
                r.report,
            )
            for r in rows
        ]

    def pending(self, org: str, *, limit: int | None = None) -> dict[str, PendingObject]:
        rows = self._connection().execute(
            select(sync_pending)
            .where(sync_pending.c.org_guid == org)
            .order_by(sync_pending.c.first_seen, sync_pending.c.source_guid)
            .limit(limit)
        )
        return {
            r.source_guid: PendingObject(
                r.source_guid,
                r.source_dn,
                int(r.code),
                r.reason,
                aware(r.first_seen) or r.first_seen,
                aware(r.last_seen) or r.last_seen,
                int(r.attempts),
            )
            for r in rows
        }

    def pending_count(self, org: str) -> int:
        found = self._connection().execute(
            select(func.count()).select_from(sync_pending).where(sync_pending.c.org_guid == org)
        )
        return int(found.scalar_one())

    def links(
        self, org: str, state: str | None = None, *, guids: Collection[str] | None = None
    ) -> dict[str, Link]:
        query = select(sync_objects).where(sync_objects.c.org_guid == org)
        if state is not None:
            query = query.where(sync_objects.c.state == state)
        if guids is not None:  # those source objects' alone, a chunk of them per query
            found: dict[str, Link] = {}
            listed = sorted(guids)
            for start in range(0, len(listed), _CHUNK):
                chunk = listed[start : start + _CHUNK]
                found.update(self._links(query.where(sync_objects.c.source_guid.in_(chunk))))
            return found
        return self._links(query)

    def _links(self, query: Select[Any]) -> dict[str, Link]:
        rows = self._connection().execute(query)
        return {
            r.source_guid: Link(
                r.source_guid,
                r.kind,
                r.source_dn,
                r.managed_dn,
                r.state,
                r.digest,
                aware(r.retain_until),
                r.anchor,
                aware(r.im_until),
                frozenset(s for s in r.services.split(",") if s),
            )
            for r in rows
        }
