"""A sync run: read the source, plan, and apply the plan through the engine's Python door.

Each object stands alone in a savepoint (one failing object never stops the others), batches of
``PER_REQUEST`` objects run in one engine transaction each, as ``openmps import`` does, and the
connector space is written after each batch; the objects a batch creates are written ``pending``
before it, so a run that dies between the engine's commit and the state's is resumed by the next
run without duplicates (``_resumed``).  A deleted user is deprovisioned: its link becomes
``disconnected`` and is kept for the retention period (its managed user and mailbox stay).
Contacts and distribution lists deleted at the source are deleted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta

from openmps.app import Deployment
from openmps.engine.engine import Transaction
from openmps.errors import InvalidArgument, InvalidOperation, MpsError
from openmps.plans.interface import MAILBOX_PLAN
from openmps.sync.interface import ACTIVE, DISCONNECTED, PENDING, PURGED, Link, SyncState
from openmps.sync.planner import CREATE, DELETE, UPDATE, Action, Plan, attributes_changed, plan
from openmps.sync.source import CONTACT, GROUP, USER, Source
from openmps.sync.sql import SqlSyncState
from openmps.types import DN

HE = "Hosted Exchange"
PER_REQUEST = 200
RETENTION = timedelta(days=30)  # a disconnected mailbox is kept this long
DELETION_THRESHOLD = 500  # a run that would delete or disconnect more stops before writing
CREATING = {USER: "CreateBusinessUser", CONTACT: "CreateContact", GROUP: "CreateDistributionList"}
DELETING = {CONTACT: "DeleteContact", GROUP: "DeleteDistributionList"}


@dataclass(frozen=True)
class ObjectError:
    code: int
    source_dn: str
    reason: str


@dataclass
class Run:
    """What a run did (or, previewed, would do): counts per action, errors and skips per object."""

    org: str
    preview: bool
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[ObjectError] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (verb, kind, source DN)
    seconds: float = 0.0
    run_id: int | None = None
    stopped: str = ""  # why the run stopped before writing (the deletion threshold)

    @property
    def outcome(self) -> str:
        return "stopped" if self.stopped else "errors" if self.errors else "completed"

    def report(self) -> str:
        return json.dumps(
            {
                "counts": self.counts,
                "errors": [asdict(e) for e in self.errors],
                "skipped": [{"source_dn": dn, "why": why} for dn, why in self.skipped],
                "seconds": round(self.seconds, 3),
                "stopped": self.stopped,
            }
        )


@contextmanager
def state_of(d: Deployment) -> Iterator[SyncState]:
    uow = d.open_uow()
    try:
        yield SqlSyncState(lambda: uow.connection)
    except BaseException:
        uow.rollback()
        raise
    uow.commit()


def organization(d: Deployment, org: DN) -> tuple[str, str | None]:
    """The organization's objectGUID and its first mailbox plan (the default rule's plan)."""

    def look(providers):  # type: ignore[no-untyped-def]
        entry = providers.directory.find(org)
        chain = providers.org_chain(org) if entry is not None else []
        if entry is None or not chain or chain[0].dn != org:
            raise InvalidArgument(f"{org.ldap_path} is not an organization", argument="org")
        plans = [p.name for p in providers.plans.available(entry.guid) if p.plan_type == MAILBOX_PLAN]
        return entry.guid, (plans[0] if plans else None)

    found: tuple[str, str | None] = d.inspect(look)
    return found


def sync(
    d: Deployment,
    org: DN,
    source: Source,
    *,
    preview: bool = False,
    confirm_deletes: bool = False,
    threshold: int = DELETION_THRESHOLD,
    progress: Callable[[Action], None] = lambda action: None,
) -> Run:
    """Read ``source``, plan against the organization's connector space and (unless ``preview``, or
    the plan deletes more than ``threshold`` objects without ``confirm_deletes``) apply the plan;
    every run that writes, or stops at the threshold, is recorded."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    org_guid, mailbox_plan = organization(d, org)
    with state_of(d) as state:
        cookie = state.cookie(org_guid)
    snapshot = source.read(cookie)
    # a delta with nothing changed plans nothing: the connector space need not be read whole
    idle = not snapshot.full and not snapshot.objects and not snapshot.deleted
    links = _resumed(d, org_guid, everything=not idle)
    todo = plan(org, snapshot, links)
    run = Run(str(org), preview)
    run.skipped = [(s.source_dn, s.why) for s in todo.skipped]
    run.errors = [ObjectError(InvalidArgument.code, r.source_dn, r.why) for r in todo.refused]
    run.actions = [(a.verb, a.kind, a.source_dn) for a in todo.actions]
    run.counts = {verb: todo.count(verb) for verb in (CREATE, UPDATE, DELETE)}
    run.counts["skipped"] = len(todo.skipped)
    deletes = todo.count(DELETE)
    if deletes > threshold and not confirm_deletes:
        run.stopped = (
            f"{deletes} objects would be deleted or disconnected, more than the threshold of {threshold}: "
            "nothing was written; confirm this run to go on"
        )
    elif not preview:
        _apply(d, org_guid, mailbox_plan, todo, links, run, progress)
    run.seconds = time.perf_counter() - clock
    if not preview or run.stopped:
        with state_of(d) as state:
            # the next delta continues from here only once every change read is applied: a run
            # with object errors or stopped leaves them to be read again (applying is idempotent)
            if not preview and not run.stopped and not run.errors and snapshot.cookie != cookie:
                state.keep_cookie(org_guid, snapshot.cookie)
            run.run_id = state.record_run(
                org_guid,
                started=started,
                finished=datetime.now(UTC),
                preview=preview,
                outcome=run.outcome,
                report=run.report(),
            )
    return run


def _apply(
    d: Deployment,
    org_guid: str,
    mailbox_plan: str | None,
    todo: Plan,
    links: dict[str, Link],
    run: Run,
    progress: Callable[[Action], None],
) -> None:
    managed = {g: DN.parse(link.managed_dn) for g, link in links.items() if link.state == ACTIVE}
    admin = d.administrator()
    for start in range(0, len(todo.actions), PER_REQUEST):
        batch = todo.actions[start : start + PER_REQUEST]
        current = _members(d, [a.managed_dn for a in batch if a.kind == GROUP and a.verb == UPDATE])
        updating = set(current)  # these groups' members are set whole by their own action
        leaving = [a.managed_dn for a in batch if a.kind == USER and a.verb == DELETE]
        holders = {u: [g for g in gs if g not in updating] for u, gs in _holders(d, leaving, links).items()}

        def run_batch(
            tx: Transaction,
            batch: list[Action] = batch,
            current: dict[DN, set[DN]] = current,
            holders: dict[DN, list[DN]] = holders,
        ) -> list[Link]:
            saved = []
            for action in batch:
                try:
                    with tx.savepoint():
                        link = _one(tx, action, mailbox_plan, managed, current, links, holders)
                except MpsError as error:
                    run.errors.append(ObjectError(error.code, action.source_dn, error.description))
                else:
                    saved.append(link)
                    if link.state == ACTIVE:
                        managed[link.source_guid] = DN.parse(link.managed_dn)
                progress(action)
            return saved

        creating = [a for a in batch if a.verb == CREATE]
        with state_of(d) as state:  # the intent first: a run dying past here is resumed (_resumed)
            for a in creating:
                state.save(
                    org_guid, Link(a.source_guid, a.kind, a.source_dn, str(a.managed_dn), PENDING, a.digest)
                )
        try:
            saved = d.engine.run(admin, run_batch)
        except MpsError as error:  # the batch as a whole failed: each of its objects is told
            run.errors += [ObjectError(error.code, a.source_dn, error.description) for a in batch]
            saved = []
        with state_of(d) as state:
            for link in saved:
                state.save(org_guid, link)
            done = {link.source_guid for link in saved}
            for a in creating:
                if a.source_guid not in done:  # not created: nothing to resume
                    state.forget(org_guid, a.source_guid)


def _resumed(d: Deployment, org_guid: str, *, everything: bool = True) -> dict[str, Link]:
    """The connector space (or, not ``everything``, its pending links alone), after the creations
    a dead run left pending are settled: its engine transaction committed (the object it was
    creating is there) or it did not (forgotten)."""
    with state_of(d) as state:
        links = state.links(org_guid, None if everything else PENDING)
        pending = [link for link in links.values() if link.state == PENDING]
        if not pending:
            return links
        there = set(d.inspect(lambda p: p.directory.find_many([DN.parse(k.managed_dn) for k in pending])))
        for link in pending:
            if DN.parse(link.managed_dn) in there:
                links[link.source_guid] = replace(link, state=ACTIVE)
                state.save(org_guid, links[link.source_guid])
            else:
                del links[link.source_guid]
                state.forget(org_guid, link.source_guid)
        return links


def _members(d: Deployment, groups: list[DN]) -> dict[DN, set[DN]]:
    if not groups:
        return {}

    def look(providers):  # type: ignore[no-untyped-def]
        found = providers.directory.find_many(groups, attributes=("member",))
        return {dn: {DN.parse(m) for m in e.get("member")} for dn, e in found.items()}

    members: dict[DN, set[DN]] = d.inspect(look)
    return members


def _holders(d: Deployment, users: list[DN], links: dict[str, Link]) -> dict[DN, list[DN]]:
    """The synced groups each of ``users`` is a member of (a delta need not list those groups)."""
    if not users:
        return {}
    synced = {DN.parse(k.managed_dn) for k in links.values() if k.kind == GROUP and k.state == ACTIVE}

    def look(providers):  # type: ignore[no-untyped-def]
        return {u: [g for g in providers.directory.member_of(u) if g in synced] for u in users}

    found: dict[DN, list[DN]] = d.inspect(look)
    return found


def _one(
    tx: Transaction,
    action: Action,
    mailbox_plan: str | None,
    managed: dict[str, DN],
    current: dict[DN, set[DN]],
    links: dict[str, Link],
    holders: dict[DN, list[DN]],
) -> Link:
    if action.verb == DELETE:
        link = links[action.source_guid]
        if action.kind == USER:  # deprovisioned: disconnected, kept for the retention period
            for group in holders.get(action.managed_dn, []):  # and out of the groups synced
                tx.call(HE, "RemoveDistributionListMember", {"path": group, "member": action.managed_dn})
            return Link(
                link.source_guid,
                link.kind,
                link.source_dn,
                link.managed_dn,
                DISCONNECTED,
                link.digest,
                datetime.now(UTC) + RETENTION,
            )
        tx.call(HE, DELETING[action.kind], {"path": action.managed_dn})
        return Link(link.source_guid, link.kind, link.source_dn, link.managed_dn, PURGED, link.digest)
    if action.verb == CREATE:
        arguments = dict(action.arguments)
        if action.kind == USER:
            if mailbox_plan is None:
                raise InvalidArgument("the organization offers no mailbox plan", argument="planName")
            arguments["planName"] = mailbox_plan
        tx.call(HE, CREATING[action.kind], arguments)
        had: set[DN] = set()
    else:
        if attributes_changed(links[action.source_guid].digest, action.digest):
            raise InvalidOperation(
                f"{action.managed_dn.ldap_path}: its source attributes changed, and changes to a "
                f"{action.kind}'s attributes are not synced yet (no procedure changes them)",
                dn=str(action.managed_dn),
            )
        had = current.get(action.managed_dn, set())
    digest = action.digest
    if action.kind == GROUP:
        wanted = {managed[g] for g in action.members if g in managed}
        if len(wanted) < len(action.members):  # a member not created (yet): the next run adds it
            digest = digest[:32] + "0" * 32
        for member in sorted(wanted - had, key=str):
            tx.call(HE, "AddDistributionListMember", {"path": action.managed_dn, "member": member})
        for member in sorted(had - wanted, key=str):
            tx.call(HE, "RemoveDistributionListMember", {"path": action.managed_dn, "member": member})
    return Link(action.source_guid, action.kind, action.source_dn, str(action.managed_dn), ACTIVE, digest)
