"""A sync run: read the source, plan, and apply the plan through the engine's Python door.

Each object stands alone in a savepoint (one failing object never stops the others), batches of
``PER_REQUEST`` objects run in one engine transaction each, as ``openmps import`` does, and each
batch's links are written in that transaction (``_state_in``): a run that dies anywhere leaves no
object without its link, and no link to an object it did not make (which another could take
before the next run); links a run of an earlier version left ``pending`` are settled
(``_resumed``).  Every change of an object's lifecycle state goes through
:func:`~openmps.sync.lifecycle.advance` (litigation hold included); the directory work is done by
procedures: Hosted Exchange's for users, mailboxes, contacts and lists (ModifyContact and
ModifyDistributionList for their changed attributes), Managed OCS's for IM, Managed Active
Directory's ModifyUser for a user's changed attributes and proxies, Service Provisioning's
DisconnectUser/ReconnectUser.  A manager not there yet when its user is made or changed (made
later in the run) is set in a second pass once every user the run makes is (``_managers``); one
not provisioned yet (a manager, a group's member) is remembered as waited on (``sync_waiting``),
and the delta that lists it reads the objects naming it again, so the run that makes it sets it
on them.  The organization's stored configuration (scope, rules, thresholds) applies to every
source.

The source's cookie moves past every run that wrote (not stopped), failed objects or not: each
object that failed is remembered by its objectGUID (``sync_pending``: the error, when first and
last seen, how many runs tried it), and every later delta reads it again by objectGUID alone
(``Source.reread``) until it succeeds, leaves scope or is deleted at the source — so one object
that keeps failing (a held mailbox whose deprovisioning is blocked, a change no procedure applies)
is reported every run without making each delta read again everything since it failed.  An error
that names no object (the organization's address lists) keeps the cookie where it was.  The cookie,
the failed objects and the run's record are one transaction, after the directory's; a run dying
before it leaves the cookie where it was, and the next run reads those changes again (applying is
idempotent).  Run records the deployment's :class:`RunRetention` does not keep are pruned then.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import Connection

from openmps.app import Deployment
from openmps.directory import wellknown
from openmps.engine.declaration import Property
from openmps.engine.engine import Transaction
from openmps.errors import InvalidArgument, MpsError
from openmps.plans.interface import MAILBOX_PLAN
from openmps.sync import heap, lifecycle
from openmps.sync.interface import ACTIVE, DISCONNECTED, PENDING, Link, PendingObject, SyncState
from openmps.sync.planner import (
    CREATE,
    DELETE,
    UPDATE,
    VERBS,
    Action,
    Plan,
    attributes_changed,
    norm,
    plan,
)
from openmps.sync.rules import ARGUMENTS, DN_VALUED, FLOW, IM, MAILBOX, source_attributes
from openmps.sync.source import CONTACT, GROUP, USER, Snapshot, Source, SourceConnection, SourceObject
from openmps.sync.sql import SqlSyncState
from openmps.syncconfig.interface import SyncConfig, SyncRules
from openmps.types import DN

HE, OCS, SP = "Hosted Exchange", "Managed Office Communications Server", "Service Provisioning"
MAD = "Managed Active Directory"
PER_REQUEST = 200
CREATING = {USER: "CreateBusinessUser", CONTACT: "CreateContact", GROUP: "CreateDistributionList"}
DELETING = {CONTACT: "DeleteContact", GROUP: "DeleteDistributionList"}


@dataclass(frozen=True)
class Settings:
    """What a run needs to know of the organization: its objectGUID, the plan its mailboxes get (its
    first mailbox plan), its SMTP domains, whether it has its own address lists, its configuration
    and the users whose mailbox is on litigation hold (by objectGUID)."""

    org_guid: str
    mailbox_plan: str | None
    domains: frozenset[str] = frozenset()
    address_lists: bool = False
    config: SyncConfig = field(default_factory=SyncConfig)
    held: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ObjectError:
    code: int
    source_dn: str
    reason: str
    source_guid: str  # the object's, remembered while it fails; "": the run's (the cookie stays)


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
    retried: int = 0  # objects a delta read again by objectGUID, their last run having failed
    awaited: int = 0  # objects a delta read again as they name one it lists not managed before

    @property
    def failing(self) -> int:
        """How many source objects failed (remembered by objectGUID, read again by the next run)."""
        return len({e.source_guid for e in self.errors if e.source_guid})

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
                "retried": self.retried,
                "awaited": self.awaited,
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


def settings(d: Deployment, org: DN) -> Settings:
    org_guid, mailbox_plan = organization(d, org)

    def look(providers):  # type: ignore[no-untyped-def]
        entry = providers.directory.get(org)
        lists = wellknown.lookup(entry.get("otherWellKnownObjects"), "OrganizationGAL") is not None
        return Settings(
            org_guid,
            mailbox_plan,
            frozenset(x.domain.lower() for x in providers.plans.domains(org_guid)),
            lists,
            providers.sync.config(org_guid),
            frozenset(providers.sync.holds(org_guid)),
        )

    found: Settings = d.inspect(look)
    return found


def stored_connection(d: Deployment, org: DN) -> SourceConnection | None:
    """The organization's stored connection (SetSyncConnection), its bind password decrypted for
    the LDAP source alone; None when it has none."""
    org_guid, _ = organization(d, org)

    def look(providers):  # type: ignore[no-untyped-def]
        config = providers.sync.config(org_guid)
        password = providers.sync.password(org_guid)
        if config.connection is None or password is None:
            return None
        c = config.connection
        return SourceConnection(
            c.url,
            c.bind_dn,
            password,
            c.include_ous,
            c.exclude_ous,
            c.start_tls,
            ca_data=c.ca_certificate or None,
        )

    found: SourceConnection | None = d.inspect(look)
    return found


def sync(
    d: Deployment,
    org: DN,
    source: Source,
    *,
    preview: bool = False,
    confirm_deletes: bool = False,
    threshold: int | None = None,
    progress: Callable[[Action], None] = lambda action: None,
    now: datetime | None = None,
) -> Run:
    """Read ``source``, plan against the organization's connector space by its configuration and
    (unless ``preview``, or the plan deletes more than ``threshold`` objects — the organization's
    deletion threshold by default — without ``confirm_deletes``) apply the plan; every run that
    writes, or stops at the threshold, is recorded.  ``now`` is the time the lifecycle's timers are
    read at (tests move it)."""
    with heap.long_lived() as settle:
        return _sync(d, org, source, preview, confirm_deletes, threshold, progress, now, settle)


def _sync(
    d: Deployment,
    org: DN,
    source: Source,
    preview: bool,
    confirm_deletes: bool,
    threshold: int | None,
    progress: Callable[[Action], None],
    now: datetime | None,
    settle: Callable[[], None],
) -> Run:
    started = datetime.now(UTC)
    clock = time.perf_counter()
    now = now or started
    found = settings(d, org)
    org_guid = found.org_guid
    if threshold is None:
        threshold = found.config.rules.deletion_threshold
    with state_of(d) as state:
        cookie = state.cookie(org_guid)
        failing = state.pending(org_guid)
    attributes = source_attributes(found.config.rules)
    snapshot = source.read(cookie, attributes=attributes)
    retry = [] if snapshot.full else [g for g in failing if g not in _listed(snapshot)]
    # objects naming one this delta lists (or retries) that was not managed when they were planned:
    # read again too, so the run that provisions it sets it on them (a manager, a member)
    awaited = [] if snapshot.full else _awaited(d, org_guid, snapshot, [failing[g] for g in retry])
    if retry or awaited:  # the cookie moved past them: read again by objectGUID alone
        snapshot = _merged(snapshot, source.reread([*retry, *awaited], attributes=attributes))
    # a delta needs the links of what it lists, and the pending and disconnected ones (a run acts
    # on them without a change at the source); the whole connector space only when an object it
    # lists names others by DN (a group's members), found among the unchanged ones
    everything = snapshot.full or any(_names_others(o) for o in snapshot.objects)
    links = _resumed(d, org_guid, listed=None if everything else _listed(snapshot))
    todo = plan(org, snapshot, links, found.config, domains=found.domains, now=now)
    settle()  # what was read and planned lives until the run ends (sync/heap.py)
    run = Run(str(org), preview, retried=len(retry), awaited=len(awaited))
    run.skipped = [(s.source_dn, s.why) for s in todo.skipped]
    run.errors = [ObjectError(InvalidArgument.code, r.source_dn, r.why, r.source_guid) for r in todo.refused]
    run.actions = [(a.verb, a.kind, a.source_dn) for a in todo.actions]
    run.counts = {
        verb: todo.count(verb) for verb in VERBS if verb in (CREATE, UPDATE, DELETE) or todo.count(verb)
    }
    run.counts["skipped"] = len(todo.skipped)
    deletes = todo.deletions()
    made: set[str] = set()  # the objects the run made or reconnected, by source DN (normal form)
    if deletes > threshold and not confirm_deletes:
        run.stopped = (
            f"{deletes} objects or mailboxes would be deleted or disconnected, more than the threshold of "
            f"{threshold}: nothing was written; confirm this run to go on"
        )
    elif not preview:
        made = _apply(d, org, found, todo, links, run, progress, now, settle)
    run.seconds = time.perf_counter() - clock
    if not preview or run.stopped:
        finished = datetime.now(UTC)
        with state_of(d) as state:
            if not preview and not run.stopped:
                # every object that failed is remembered, so the next delta continues from here
                # and reads them again by objectGUID; an error naming no object keeps the cookie
                state.keep_pending(org_guid, _failed(run.errors, failing, finished))
                refused = {r.source_guid for r in todo.refused}
                state.keep_waiting(
                    org_guid,
                    _still_waiting(todo.waiting, made),
                    replacing=None if snapshot.full else _listed(snapshot) - refused,
                    keeping=refused,
                )
                if all(e.source_guid for e in run.errors) and snapshot.cookie != cookie:
                    state.keep_cookie(org_guid, snapshot.cookie)
            run.run_id = state.record_run(
                org_guid,
                started=started,
                finished=finished,
                preview=preview,
                outcome=run.outcome,
                report=run.report(),
            )
            state.prune_runs(org_guid, d.run_retention, now=finished)
    return run


# a value written as a DN (``<GUID=…>;`` prefixed too): an attribute naming another object
_DN_VALUE = re.compile(r"\s*(<[^>]*>;)*[A-Za-z][\w-]*=[^,]*,\s*[A-Za-z][\w-]*=")


def _names_others(obj: SourceObject) -> bool:
    """Whether the object names another by DN (a group's members, a user's manager — ``DN_VALUED``
    — or any value written as a DN): the planner resolves those among every managed object, not
    only among what a delta lists."""
    return (
        obj.kind == GROUP
        or any(obj.get(attr) for attr in DN_VALUED)
        or any(
            _DN_VALUE.match(v)
            for k, values in obj.attributes.items()
            if k.lower() != "member"
            for v in values
        )
    )


def _awaited(d: Deployment, org_guid: str, snapshot: Snapshot, retried: list[PendingObject]) -> list[str]:
    """The objects waiting on one the delta lists or retries (by its DN), not listed themselves."""
    named = {o.dn for o in snapshot.objects} | {p.source_dn for p in retried}
    targets = {norm for norm in map(norm, named) if norm}
    if not targets:
        return []
    with state_of(d) as state:
        waiting = state.waiting_on(org_guid, targets)
    listed = _listed(snapshot) | {p.source_guid for p in retried}
    return sorted(waiting - listed)


def _still_waiting(waiting: dict[str, frozenset[str]], made: set[str]) -> dict[str, frozenset[str]]:
    """What each planned object still waits on once the run made the objects ``made`` (their
    source DNs' normal form); one whose creation failed is still waited on."""
    return {guid: targets - made for guid, targets in waiting.items()}


def _listed(snapshot: Snapshot) -> set[str]:
    return {o.guid for o in snapshot.objects} | set(snapshot.deleted)


def _merged(snapshot: Snapshot, again: Snapshot) -> Snapshot:
    """A delta and the failed objects read again: an object the delta lists is as the delta has it."""
    listed = _listed(snapshot)
    objects = [*snapshot.objects, *(o for o in again.objects if o.guid not in listed)]
    deleted = [*snapshot.deleted, *(g for g in again.deleted if g not in listed)]
    return replace(snapshot, objects=objects, deleted=deleted)


def _failed(
    errors: list[ObjectError], before: dict[str, PendingObject], now: datetime
) -> list[PendingObject]:
    """The objects that failed in this run, each once (its errors joined), counting the runs they
    failed in one after the other; one that failed before and not now succeeded or went."""
    by_guid: dict[str, list[ObjectError]] = {}
    for error in errors:
        if error.source_guid:
            by_guid.setdefault(error.source_guid, []).append(error)
    failed = []
    for guid, told in by_guid.items():
        last = before.get(guid)
        failed.append(
            PendingObject(
                guid,
                told[0].source_dn,
                told[0].code,
                "; ".join(dict.fromkeys(e.reason for e in told)),
                last.first_seen if last else now,
                now,
                last.attempts + 1 if last else 1,
            )
        )
    return failed


def _apply(
    d: Deployment,
    org: DN,
    found: Settings,
    todo: Plan,
    links: dict[str, Link],
    run: Run,
    progress: Callable[[Action], None],
    now: datetime,
    settle: Callable[[], None],
) -> set[str]:
    """Apply ``todo``; the source DNs (normal form) of the objects the run made or reconnected."""
    org_guid = found.org_guid
    managed = {g: DN.parse(link.managed_dn) for g, link in links.items() if link.state == ACTIVE}
    admin = d.administrator()
    held = _held(d, found.held, [a.managed_dn for a in todo.actions if a.kind == USER])
    if not found.address_lists and any(a.verb == CREATE for a in todo.actions):
        try:  # every mail-enabled object it creates is then in the organization's own lists
            d.engine.run(admin, lambda tx: tx.call(HE, "CreateOrganizationAddressLists", {"path": org}))
        except MpsError as error:
            run.errors.append(ObjectError(error.code, str(org), error.description, ""))
    work = _Work(found.mailbox_plan, found.config.rules, managed, links, held, now)
    final: dict[str, Link] = {}  # the links as the run saved them
    for start in range(0, len(todo.actions), PER_REQUEST):
        batch = todo.actions[start : start + PER_REQUEST]
        current = _members(d, [a.managed_dn for a in batch if a.kind == GROUP and a.verb == UPDATE])

        def run_batch(
            tx: Transaction, batch: list[Action] = batch, current: dict[DN, set[DN]] = current
        ) -> tuple[list[Link], list[ObjectError]]:
            saved, forgotten, errors = [], [], []  # told once it commits (it may be run again)
            for action in batch:
                told: list[ObjectError] = []
                try:
                    with tx.savepoint():
                        link = work.one(tx, action, current, told)
                except MpsError as error:
                    errors.append(
                        ObjectError(error.code, action.source_dn, error.description, action.source_guid)
                    )
                else:
                    errors.extend(told)
                    saved.append(link)
                    if action.previous is not None and action.previous != link.source_guid:
                        forgotten.append(action.previous)
                    if link.state == ACTIVE:
                        managed[link.source_guid] = DN.parse(link.managed_dn)
                        work.there.add(managed[link.source_guid])
                progress(action)
            # the links in the engine's own transaction: no object without its link, nor a link
            # to an object the batch did not make (which another could take before the next run)
            state = _state_in(tx)
            for guid in forgotten:
                state.forget(org_guid, guid)
            state.save_all(org_guid, saved)
            return saved, errors

        try:
            saved, errors = d.engine.run(admin, run_batch)
        except MpsError as error:  # the batch as a whole failed: each of its objects is told
            saved = []
            errors = [ObjectError(error.code, a.source_dn, error.description, a.source_guid) for a in batch]
        run.errors += errors
        final.update((link.source_guid, link) for link in saved)
        settle()  # what the batch left (its links, the managed DNs) lives until the run ends
    _managers(d, org_guid, work, final, run)
    made = [a.source_guid for a in todo.actions if a.verb in (CREATE, lifecycle.RECONNECT)]
    return {norm(final[g].source_dn) for g in made if g in final and final[g].state == ACTIVE}


def _managers(d: Deployment, org_guid: str, work: _Work, final: dict[str, Link], run: Run) -> None:
    """The second pass: the managers of the users the run created or changed, now that every user
    it makes is there (a manager made later in the same run too).  One that fails is the user's
    error, and its link is marked so the next run sets its attributes again."""
    # each once: a batch run again (after a StoreConflict) asked for its users' managers again
    users = list({a.source_guid: a for a in work.managers if a.source_guid in final}.values())
    for start in range(0, len(users), PER_REQUEST):
        batch = users[start : start + PER_REQUEST]

        def run_batch(tx: Transaction, batch: list[Action] = batch) -> list[ObjectError]:
            errors = []  # told once it commits (it may be run again)
            for action in batch:
                try:
                    with tx.savepoint():
                        work.manager(tx, action)
                except MpsError as error:
                    why = f"manager: {error.description}"
                    errors.append(ObjectError(error.code, action.source_dn, why, action.source_guid))
            if errors:  # marked in the same transaction as the managers set
                _state_in(tx).save_all(org_guid, [_again(final[e.source_guid]) for e in errors])
            return errors

        try:
            run.errors += d.engine.run(d.administrator(), run_batch)
        except MpsError as error:  # nothing of the batch was written: each of its users marked
            run.errors += [
                ObjectError(error.code, a.source_dn, f"manager: {error.description}", a.source_guid)
                for a in batch
            ]
            with state_of(d) as state:
                state.save_all(org_guid, [_again(final[a.source_guid]) for a in batch])


def _again(link: Link) -> Link:
    """The link marked so the next run sets its object's attributes again (they differ from it)."""
    return replace(link, digest="0" * 32 + link.digest[32:])


@runtime_checkable
class _OnSql(Protocol):
    """A unit of work on the SQL store (``db.store.SqlUnitOfWork``), where sync keeps its state."""

    @property
    def connection(self) -> Connection: ...


def _state_in(tx: Transaction) -> SyncState:
    """Sync's state written in the engine's transaction ``tx`` (committed with its work)."""
    uow = tx.unit_of_work
    if not isinstance(uow, _OnSql):
        raise TypeError("sync's state is kept in the SQL store")
    uow.will_write()
    return SqlSyncState(lambda: uow.connection)


def _held(d: Deployment, holds: frozenset[str], users: list[DN]) -> frozenset[DN]:
    """Which of ``users`` have their mailbox on litigation hold."""
    if not holds or not users:
        return frozenset()
    entries = d.inspect(lambda p: p.directory.find_many(users, attributes=("objectClass",)))
    return frozenset(dn for dn, entry in entries.items() if entry.guid in holds)


def _resumed(d: Deployment, org_guid: str, *, listed: set[str] | None = None) -> dict[str, Link]:
    """The connector space (or only the links of the source objects ``listed`` and those a run
    may act on without a change at the source: pending and disconnected ones), after the
    creations a dead run of an earlier version (which wrote them before its batch) left pending
    are settled: the object it was creating is there, or it is forgotten."""
    with state_of(d) as state:
        if listed is None:
            links = state.links(org_guid)
        else:
            links = {
                **state.links(org_guid, guids=listed),
                **state.links(org_guid, PENDING),
                **state.links(org_guid, DISCONNECTED),
            }
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


@dataclass
class _Work:
    """How each action of a plan is carried out through the engine's procedures."""

    mailbox_plan: str | None
    rules: SyncRules
    managed: dict[str, DN]
    links: dict[str, Link]
    held: frozenset[DN]
    now: datetime
    managers: list[Action] = field(default_factory=list)  # users whose manager is set last
    renamed: dict[DN, DN] = field(default_factory=dict)  # contacts and lists renamed: old -> new DN
    there: set[DN] = field(default_factory=set)  # the managed users' DNs as the run's batches commit

    def __post_init__(self) -> None:
        self.there.update(self.managed.values())

    def _advance(self, link: Link, event: str) -> Link:
        return lifecycle.advance(
            link, event, held=DN.parse(link.managed_dn) in self.held, rules=self.rules, now=self.now
        )

    def one(
        self, tx: Transaction, action: Action, current: dict[DN, set[DN]], told: list[ObjectError]
    ) -> Link:
        if action.verb == DELETE:
            return self._deprovision(tx, self.links[action.source_guid])
        if action.verb == lifecycle.PURGE:
            link = self._advance(self.links[action.source_guid], lifecycle.PURGE)
            if MAILBOX in link.services:  # the Resource Manager takes its storage back
                tx.call(HE, "DeleteMailbox", {"path": action.managed_dn})
            tx.call(HE, "DeleteBusinessUser", {"path": action.managed_dn})
            return link
        if action.verb == lifecycle.EXPIRE_IM:
            link = self._advance(self.links[action.source_guid], lifecycle.EXPIRE_IM)
            if IM in link.services:
                tx.call(OCS, "DeleteSipUser", {"user": action.managed_dn})
            return replace(link, services=link.services - {IM})
        if action.verb == lifecycle.RECONNECT:
            return self._reconnect(tx, action, told)
        if action.verb == CREATE:
            return self._create(tx, action, told)
        return self._update(tx, action, current, told)

    def _deprovision(self, tx: Transaction, link: Link) -> Link:
        path = DN.parse(link.managed_dn)
        if link.kind != USER:
            link = self._advance(link, lifecycle.DELETE)
            tx.call(HE, DELETING[link.kind], {"path": path})
            return link
        link = self._advance(link, lifecycle.DISCONNECT)  # the identity leaves, its mailbox is kept
        moved = tx.call(SP, "DisconnectUser", {"user": path})
        return replace(link, managed_dn=str(getattr(moved, "path", path)))

    def _reconnect(self, tx: Transaction, action: Action, told: list[ObjectError]) -> Link:
        assert action.previous is not None
        before = self.links[action.previous]
        link = self._advance(before, lifecycle.RECONNECT)
        path = action.managed_dn
        if before.state != ACTIVE:
            path = getattr(tx.call(SP, "ReconnectUser", {"user": path}), "path", path)
        had = (
            before.services
            if before.im_until is None or before.im_until > self.now
            else before.services - {IM}
        )
        link = replace(
            link,
            source_guid=action.source_guid,
            source_dn=action.source_dn,
            managed_dn=str(path),
            anchor=action.anchor,
            services=had,
        )
        return self._services(tx, link, action, told)

    def _create(self, tx: Transaction, action: Action, told: list[ObjectError]) -> Link:
        arguments = dict(action.arguments)
        if action.kind == USER:
            flow = action.flow
            named = ARGUMENTS | DN_VALUED  # a manager once every user is made (``manager``)
            extra = tuple(Property(k, (v,)) for k, v in sorted(flow.items()) if k not in named)
            if extra:
                arguments["properties"] = extra
            if MAILBOX in action.services:
                arguments["planName"] = self._plan()
                if "proxyAddresses" in flow:
                    arguments["proxyAddresses"] = tuple(flow["proxyAddresses"].split())
        tx.call(HE, CREATING[action.kind], arguments)
        link = Link(
            action.source_guid,
            action.kind,
            action.source_dn,
            str(action.managed_dn),
            ACTIVE,
            action.digest,
            anchor=action.anchor,
            services=action.services & {MAILBOX},
        )
        if action.kind == USER:
            if "manager" in action.flow and (edit := self._manager_now(action, action.flow["manager"])):
                tx.call(MAD, "ModifyUser", {"path": action.managed_dn, "properties": edit})
            return self._services(tx, link, action, told)
        return self._membership(tx, action, link, set())

    def _plan(self) -> str:
        if self.mailbox_plan is None:
            raise InvalidArgument("the organization offers no mailbox plan", argument="planName")
        return self.mailbox_plan

    def _services(self, tx: Transaction, link: Link, action: Action, told: list[ObjectError]) -> Link:
        """Give or take the user's services to match ``action.services``."""
        path = DN.parse(link.managed_dn)
        have = set(link.services)
        if MAILBOX in action.services and MAILBOX not in have:
            mailbox: dict[str, object] = {"path": path, "planName": self._plan()}
            if "proxyAddresses" in action.arguments:
                mailbox["proxyAddresses"] = tuple(str(action.arguments["proxyAddresses"]).split())
            tx.call(HE, "CreateMailbox", mailbox)
            have.add(MAILBOX)
        elif MAILBOX not in action.services and MAILBOX in have:
            self._advance(link, lifecycle.REMOVE_MAILBOX)  # the explicit deprovisioning rule
            tx.call(HE, "DeleteMailbox", {"path": path})
            have.discard(MAILBOX)
        if IM in action.services and IM not in have:
            uri = f"sip:{path.rdn_value}"
            try:  # IM alone fails alone: the user and its mailbox stay, the next run tries again
                with tx.savepoint():
                    tx.call(OCS, "CreateSipUser", {"user": path, "enabled": True, "primaryURI": uri})
            except MpsError as error:
                told.append(
                    ObjectError(error.code, action.source_dn, f"IM: {error.description}", action.source_guid)
                )
            else:
                have.add(IM)
        return replace(link, services=frozenset(have))

    def _update(
        self, tx: Transaction, action: Action, current: dict[DN, set[DN]], told: list[ObjectError]
    ) -> Link:
        before = self.links[action.source_guid]
        had = current.get(action.managed_dn, set())
        if action.rename:  # renamed at the source: the managed object's name and path follow
            action = replace(action, managed_dn=self._rename(tx, action))
        if action.rename or attributes_changed(before.digest, action.digest):
            self._modify(tx, action, before)  # renamed: a display name it lacks is the new name
        link = replace(
            before,
            source_dn=action.source_dn,
            managed_dn=str(action.managed_dn),
            digest=action.digest,
            anchor=action.anchor or before.anchor,
        )
        if action.kind == USER:
            return self._services(tx, link, action, told)
        return self._membership(tx, action, link, had)

    def _rename(self, tx: Transaction, action: Action) -> DN:
        """The contact or list moved to its new name (a name another object has: the object's
        error, naming it); its new path."""
        procedure = "ModifyContact" if action.kind == CONTACT else "ModifyDistributionList"
        done = tx.call(HE, procedure, {"path": action.managed_dn, "name": action.rename})
        path: DN = getattr(done, "path", action.managed_dn)
        self.renamed[action.managed_dn] = path
        return path

    def _modify(self, tx: Transaction, action: Action, before: Link) -> None:
        """Every attribute of the flow table through the kind's edit procedure: a value the source
        no longer has is removed (a contact's or list's display name falls back to its name, as
        when it was created); a user's manager comes after every object of the run (``manager``)."""
        flow = {target: str(value) for target, value in action.arguments.items()}
        proxies = tuple(flow.pop("proxyAddresses", "").split())
        path = action.managed_dn
        if action.kind == USER:
            edits = tuple(
                Property(target, (flow[target],) if target in flow else ())
                for target in FLOW[USER].values()
                if target not in ("proxyAddresses", *DN_VALUED)
            )
            edits += self._manager_now(action, flow.get("manager"))
            arguments: dict[str, object] = {"path": path, "properties": edits}
            if MAILBOX in before.services:  # a user without a mailbox has no addresses of its own
                arguments["proxyAddresses"] = proxies
            tx.call(MAD, "ModifyUser", arguments)
            return
        name = flow.get("displayName") or path.rdn_value
        # a description the source no longer has is removed (a property without a value)
        description = Property("description", (flow["description"],) if "description" in flow else ())
        if action.kind == CONTACT:
            contact = {
                "path": path,
                "displayName": name,
                "alias": flow.get("alias"),  # one the source drops stays as it is
                "proxyAddresses": proxies,
                "properties": (description,),
            }
            tx.call(HE, "ModifyContact", {**contact, "targetAddress": flow.get("targetAddress")})
            return
        tx.call(
            HE,
            "ModifyDistributionList",
            {
                "path": path,
                "displayName": name,
                "alias": flow.get("alias"),  # one the source drops stays as it is
                "primarySmtpAddress": flow.get("primarySmtpAddress"),  # likewise
                "proxyAddresses": proxies,
                "properties": (description,),
            },
        )

    def _manager_now(self, action: Action, manager: str | None) -> tuple[Property, ...]:
        """The manager edit if it can be made now (none, or a user already there); else the user
        waits for the second pass (``manager``) and nothing now."""
        if manager is None or DN.parse(manager) in self.there:
            return (Property("manager", (manager,) if manager is not None else ()),)
        self.managers.append(action)
        return ()

    def manager(self, tx: Transaction, action: Action) -> None:
        """The user's manager, set (or removed) once the run has made every user it makes."""
        path = self.managed.get(action.source_guid, action.managed_dn)
        manager = (action.flow if action.verb == CREATE else action.arguments).get("manager")
        edit = Property("manager", (str(manager),) if manager is not None else ())
        tx.call(MAD, "ModifyUser", {"path": path, "properties": (edit,)})

    def _membership(self, tx: Transaction, action: Action, link: Link, had: set[DN]) -> Link:
        if action.kind != GROUP:
            return link
        wanted = {self.managed[g] for g in action.members if g in self.managed}
        had = {self.renamed.get(m, m) for m in had}  # members renamed since they were read
        digest = link.digest
        if len(wanted) < len(action.members):  # a member not created (yet): the next run adds it
            digest = digest[:32] + "0" * 32
        for member in sorted(wanted - had, key=str):
            tx.call(HE, "AddDistributionListMember", {"path": action.managed_dn, "member": member})
        for member in sorted(had - wanted, key=str):
            tx.call(HE, "RemoveDistributionListMember", {"path": action.managed_dn, "member": member})
        return replace(link, digest=digest)
