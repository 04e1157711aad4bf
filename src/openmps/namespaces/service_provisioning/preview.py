"""PreviewSync: what a sync of the organization would do, computed in the request, nothing written.

Decided: the snapshot comes in the request (an LDIF snapshot of the customer's forest, a ``<line>``
per line), never from the stored connection — a request does not open a connection to a
customer's forest and read it whole while a worker waits; a preview from the stored connection is
the runner's (``openmps sync run --preview``).  The plan is the runner's own
(:func:`openmps.sync.planner.plan`, by the organization's stored scope and rules, against its
connector space), so the preview is what the next run from that snapshot would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, checked_text, procedure
from openmps.errors import InvalidArgument, MpsError
from openmps.namespaces.service_provisioning.common import NAMESPACE, business_org
from openmps.namespaces.service_provisioning.status import ActionCount, ObjectError
from openmps.sync.ldif_source import LdifSource
from openmps.sync.planner import VERBS, plan
from openmps.types import DN

Ctx = ProcedureContext[Providers]
MAX_LINE = 4096


def ldif_line(where: str, text: str) -> str:
    """One line of an LDIF snapshot, as given (a continuation line starts with a space)."""
    return checked_text(where, text, limit=MAX_LINE)


@dataclass(frozen=True)
class PlannedAction:
    verb: Annotated[str, Xml("@action", "create, update, delete, reconnect, purge, expire IM")]
    kind: Annotated[str, Xml("@kind", "user, contact or group")]
    source_dn: Annotated[str, Xml("@object", "the source object's DN")]


@dataclass(frozen=True)
class Skip:
    source_dn: Annotated[str, Xml("@object", "the source object's DN")]
    reason: Annotated[str, Xml(".", "why it is not provisioned")]


@dataclass(frozen=True)
class SyncPreview:
    """What a run from the snapshot would do: counts per action, each action, skips, object errors."""

    counts: Annotated[tuple[ActionCount, ...], Xml("counts", item="count")]
    actions: Annotated[tuple[PlannedAction, ...], Xml("actions", item="action")]
    skipped: Annotated[tuple[Skip, ...], Xml("skipped", item="object")]
    errors: Annotated[tuple[ObjectError, ...], Xml("errors", item="error")]


@procedure(
    NAMESPACE,
    "PreviewSync",
    requires=Role.USER_CREATOR,
    scope="organization",
    kind="read",
    right="DS_READ_PROP",
)
class PreviewSync:
    """What a sync of the organization from an LDIF snapshot of its forest would do, by its stored
    scope and rules; nothing is written."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    snapshot: Annotated[
        tuple[str, ...],
        Xml("snapshot", "the forest as LDIF (RFC 2849), a <line> per line", item="line", parse=ldif_line),
    ]

    def run(self, ctx: Ctx) -> SyncPreview:
        providers = ctx.providers
        org = business_org(providers, self.organization)
        guid = org.entry.guid
        text = "\n".join(self.snapshot) + "\n"
        try:
            snapshot = LdifSource(text.encode()).read()
        except MpsError as exc:  # the LDIF reader's refusals name the line
            raise InvalidArgument(f"'snapshot': {exc.description}", argument="snapshot") from None
        domains = frozenset(d.domain.lower() for d in providers.plans.domains(guid))
        todo = plan(
            org.dn, snapshot, providers.sync.links(guid), providers.sync.config(guid), domains=domains
        )
        counts = {verb: todo.count(verb) for verb in VERBS}
        return SyncPreview(
            tuple(ActionCount(verb, n) for verb, n in counts.items() if n),
            tuple(PlannedAction(a.verb, a.kind, a.source_dn) for a in todo.actions),
            tuple(Skip(s.source_dn, s.why) for s in todo.skipped),
            tuple(ObjectError(f"{InvalidArgument.code:#010x}", r.source_dn, r.why) for r in todo.refused),
        )


PROCEDURES = (PreviewSync,)
