"""Sync's state in the SQL store (tables ``sync_objects``, ``sync_runs``, ``sync_cookies`` and
``sync_pending``, ``sync_waiting``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select

from openmps.db.schema import sync_cookies, sync_objects, sync_pending, sync_runs, sync_waiting
from openmps.sync.interface import Link, PendingObject, RunRecord, RunRetention
from openmps.syncconfig.keys import SecretBox
from openmps.syncconfig.sql import SqlSyncConfig

_CHUNK = 500  # values in one IN (…): well under every backend's limit on parameters


class SqlSyncState:
    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    def links(
        self, org: str, state: str | None = None, *, guids: Collection[str] | None = None
    ) -> dict[str, Link]:
        return self._config().links(org, state, guids=guids)

    def forget(self, org: str, source_guid: str) -> None:
        self._forget_all(org, [source_guid])

    def save(self, org: str, link: Link) -> None:
        self.save_all(org, [link])

    def save_all(self, org: str, links: Sequence[Link]) -> None:
        """Each link over what the connector space held for its object (of two for one object, the
        later): one delete and one many-row insert, as a run writes a batch's links."""
        latest = {link.source_guid: link for link in links}
        if not latest:
            return
        self._forget_all(org, list(latest))
        rows = [
            {
                "org_guid": org,
                "source_guid": link.source_guid,
                "kind": link.kind,
                "source_dn": link.source_dn,
                "managed_dn": link.managed_dn,
                "state": link.state,
                "digest": link.digest,
                "retain_until": link.retain_until,
                "anchor": link.anchor,
                "im_until": link.im_until,
                "services": ",".join(sorted(link.services)),
            }
            for link in latest.values()
        ]
        self._connection().execute(insert(sync_objects), rows)

    def _forget_all(self, org: str, source_guids: list[str]) -> None:
        self._connection().execute(
            delete(sync_objects).where(
                sync_objects.c.org_guid == org, sync_objects.c.source_guid.in_(source_guids)
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
        return self._config().runs(org, limit=limit)

    def cookie(self, org: str) -> str | None:
        """Where the organization's next delta read continues from (None: read everything)."""
        found = (
            self._connection()
            .execute(select(sync_cookies.c.cookie).where(sync_cookies.c.org_guid == org))
            .scalar()
        )
        return None if found is None else str(found)

    def keep_cookie(self, org: str, cookie: str | None) -> None:
        conn = self._connection()
        conn.execute(delete(sync_cookies).where(sync_cookies.c.org_guid == org))
        if cookie is not None:
            conn.execute(insert(sync_cookies).values(org_guid=org, cookie=cookie))

    def pending(self, org: str, *, limit: int | None = None) -> dict[str, PendingObject]:
        return self._config().pending(org, limit=limit)

    def pending_count(self, org: str) -> int:
        return self._config().pending_count(org)

    def keep_pending(self, org: str, failed: list[PendingObject]) -> None:
        conn = self._connection()
        conn.execute(delete(sync_pending).where(sync_pending.c.org_guid == org))
        if failed:
            conn.execute(
                insert(sync_pending),
                [
                    {
                        "org_guid": org,
                        "source_guid": p.source_guid,
                        "source_dn": p.source_dn,
                        "code": p.code,
                        "reason": p.reason,
                        "first_seen": p.first_seen,
                        "last_seen": p.last_seen,
                        "attempts": p.attempts,
                    }
                    for p in failed
                ],
            )

    def waiting_on(self, org: str, targets: Collection[str]) -> set[str]:
        conn, found = self._connection(), set[str]()
        wanted = sorted(targets)
        for start in range(0, len(wanted), _CHUNK):
            found.update(
                conn.execute(
                    select(sync_waiting.c.source_guid).where(
                        sync_waiting.c.org_guid == org,
                        sync_waiting.c.target.in_(wanted[start : start + _CHUNK]),
                    )
                ).scalars()
            )
        return {str(g) for g in found}

    def keep_waiting(
        self,
        org: str,
        waiting: Mapping[str, Collection[str]],
        *,
        replacing: Collection[str] | None,
        keeping: Collection[str] = (),
    ) -> None:
        conn = self._connection()
        mine = sync_waiting.c.org_guid == org
        if replacing is None:
            conn.execute(delete(sync_waiting).where(mine, sync_waiting.c.source_guid.not_in(list(keeping))))
        else:
            gone = sorted(set(replacing) | set(waiting))
            for start in range(0, len(gone), _CHUNK):
                chunk = gone[start : start + _CHUNK]
                conn.execute(delete(sync_waiting).where(mine, sync_waiting.c.source_guid.in_(chunk)))
        rows = [
            {"org_guid": org, "source_guid": guid, "target": target}
            for guid, targets in waiting.items()
            for target in sorted(set(targets))
        ]
        if rows:
            conn.execute(insert(sync_waiting), rows)

    def prune_runs(self, org: str, retention: RunRetention, *, now: datetime) -> int:
        conn = self._connection()
        mine = sync_runs.c.org_guid == org
        kept = [
            int(i)
            for i in conn.execute(
                select(sync_runs.c.id).where(mine).order_by(sync_runs.c.id.desc()).limit(retention.runs)
            ).scalars()
        ]
        succeeded = conn.execute(
            select(func.max(sync_runs.c.id)).where(
                mine, sync_runs.c.outcome == "completed", sync_runs.c.preview == 0
            )
        ).scalar()
        if succeeded is not None:
            kept.append(int(succeeded))
        done = conn.execute(
            delete(sync_runs).where(
                mine,
                sync_runs.c.started < now - timedelta(days=retention.days),
                sync_runs.c.id.not_in(kept),
            )
        )
        return int(done.rowcount)

    def _config(self) -> SqlSyncConfig:  # its reads of the connector space and the runs
        return SqlSyncConfig(self._connection, SecretBox(None))
