"""GetSyncStatus: an organization's last sync runs, as the runner recorded them, and the source
objects whose last run failed (each later run reads them again)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument
from openmps.namespaces.service_provisioning.common import NAMESPACE, business_org
from openmps.syncconfig.interface import PENDING_SHOWN
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@dataclass(frozen=True)
class ActionCount:
    action: Annotated[str, Xml("@action", "create, update, delete, reconnect, purge, skipped …")]
    objects: Annotated[int, Xml("@objects")]


@dataclass(frozen=True)
class ObjectError:
    code: Annotated[str, Xml("@code", "the error's code, 0x…")]
    source_dn: Annotated[str, Xml("@object", "the source object's DN")]
    reason: Annotated[str, Xml(".", "what was wrong")]


@dataclass(frozen=True)
class SyncRun:
    run_id: Annotated[int, Xml("@id")]
    started: Annotated[str, Xml("@started", "ISO 8601 time")]
    finished: Annotated[str, Xml("@finished", "ISO 8601 time")]
    outcome: Annotated[str, Xml("@outcome", "completed | errors | stopped")]
    preview: Annotated[bool, Xml("@preview", "a preview stopped at the deletion threshold")]
    seconds: Annotated[str, Xml("@seconds", "duration")]
    counts: Annotated[tuple[ActionCount, ...], Xml("counts", item="count")]
    errors: Annotated[tuple[ObjectError, ...], Xml("errors", item="error")]
    stopped: Annotated[str, Xml("stopped", "why the run stopped before writing")] = ""


@dataclass(frozen=True)
class PendingObject:
    """A source object whose last run failed: each later run reads it again by its objectGUID."""

    source_dn: Annotated[str, Xml("@object", "the source object's DN")]
    source_guid: Annotated[str, Xml("@objectGUID", "the source object's objectGUID")]
    code: Annotated[str, Xml("@code", "the last error's code, 0x…")]
    first_seen: Annotated[str, Xml("@firstSeen", "ISO 8601 time of the first failed run")]
    last_seen: Annotated[str, Xml("@lastSeen", "ISO 8601 time of the last failed run")]
    attempts: Annotated[int, Xml("@attempts", "the runs that failed on it, one after the other")]
    reason: Annotated[str, Xml(".", "what was wrong the last time")]


@dataclass(frozen=True)
class SyncStatus:
    """The organization's last sync runs, newest first, and the objects each run tries again until
    they succeed, leave scope or are deleted at the source (the 100 oldest, and how many
    there are)."""

    runs: Annotated[tuple[SyncRun, ...], Xml("runs", item="run")]
    pending: Annotated[
        tuple[PendingObject, ...],
        Xml("pending", "the objects whose last run failed, the 100 oldest", item="object"),
    ] = ()
    pending_total: Annotated[int, Xml("pendingTotal", "how many objects' last run failed, listed or not")] = 0


@procedure(
    NAMESPACE,
    "GetSyncStatus",
    requires=Role.USER_CREATOR,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class GetSyncStatus:
    """The organization's last sync runs (counts per action, errors per object, duration) and the
    source objects whose last run failed."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    last: Annotated[int, Xml("last", "how many runs (1-100)")] = 10

    def run(self, ctx: Ctx) -> SyncStatus:
        if not 1 <= self.last <= 100:
            raise InvalidArgument(f"'last' must be between 1 and 100, not {self.last}", argument="last")
        org = business_org(ctx.providers, self.organization)
        runs = []
        for record in ctx.providers.sync.runs(org.entry.guid, limit=self.last):
            report = json.loads(record.report)
            runs.append(
                SyncRun(
                    record.run_id,
                    record.started.isoformat(),
                    record.finished.isoformat(),
                    record.outcome,
                    record.preview,
                    str(report.get("seconds", 0)),
                    tuple(ActionCount(k, int(v)) for k, v in report.get("counts", {}).items()),
                    tuple(
                        ObjectError(f"{int(e['code']):#010x}", e["source_dn"], e["reason"])
                        for e in report.get("errors", [])
                    ),
                    report.get("stopped", ""),
                )
            )
        pending = tuple(
            PendingObject(
                p.source_dn,
                p.source_guid,
                f"{p.code:#010x}",
                p.first_seen.isoformat(),
                p.last_seen.isoformat(),
                p.attempts,
                p.reason,
            )
            for p in ctx.providers.sync.pending(org.entry.guid, limit=PENDING_SHOWN).values()
        )
        total = (
            len(pending) if len(pending) < PENDING_SHOWN else ctx.providers.sync.pending_count(org.entry.guid)
        )
        return SyncStatus(tuple(runs), pending, total)


PROCEDURES = (GetSyncStatus,)
