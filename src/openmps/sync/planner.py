"""The source against what is managed: the actions a run takes.  A preview is the plan alone.

Each source object falls into a situation and gets its reaction: unmatched (no link) → create, or
reconnect when it matches a disconnected user by the reconnection anchor within retention (or a
held user whose source object is gone); linked and changed → update (attributes, members,
services); linked and gone (deleted, out of scope) → delete (users: disconnect).  Disconnected
users whose timers ran out are purged, or lose their IM profile (:mod:`~openmps.sync.lifecycle`).
"""

from __future__ import annotations

import graphlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from openmps.errors import InvalidArgument
from openmps.sync.interface import ACTIVE, Link
from openmps.sync.lifecycle import EXPIRE_IM, PURGE, RECONNECT, due, reconnectable
from openmps.sync.rules import (
    ARGUMENTS,
    DN_VALUED,
    MAILBOX,
    anchor_of,
    flowed,
    judge,
    security_enabled,
    services,
)
from openmps.sync.source import CONTACT, GROUP, USER, Snapshot, SourceObject
from openmps.syncconfig.interface import SyncConfig
from openmps.types import DN

CREATE, UPDATE, DELETE = "create", "update", "delete"
VERBS = (CREATE, UPDATE, DELETE, RECONNECT, PURGE, EXPIRE_IM)


@dataclass(frozen=True)
class Action:
    verb: str  # create | update | delete
    kind: str
    source_guid: str
    source_dn: str
    managed_dn: DN
    digest: str = ""
    arguments: Mapping[str, object] = field(default_factory=dict)
    members: tuple[str, ...] = ()  # groups: source objectGUIDs of the members in scope
    services: frozenset[str] = frozenset()  # users: the services wanted (mailbox, im)
    anchor: str | None = None  # users: the reconnection anchor's value
    previous: str | None = None  # reconnect: the objectGUID of the source object it was linked to
    flow: Mapping[str, str] = field(default_factory=dict)  # create: every managed attribute that flowed
    removes_mailbox: bool = False  # update: the explicit deprovisioning rule takes the mailbox away
    rename: str = ""  # update: a contact's or list's new name (CN), renamed at the source


@dataclass(frozen=True)
class Skipped:
    source_dn: str
    why: str
    source_guid: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)  # object errors found before any write
    # every object planned (in scope, not refused): the DNs (normal form) it names — a manager, a
    # member — of objects not managed before the run; a later run that provisions one settles it
    waiting: dict[str, frozenset[str]] = field(default_factory=dict)

    def count(self, verb: str) -> int:
        return sum(1 for a in self.actions if a.verb == verb)

    def deletions(self) -> int:
        """What the deletion threshold counts: objects deleted or disconnected, and mailboxes the
        explicit deprovisioning rule takes away (a rule set wrong must not empty an organization)."""
        return self.count(DELETE) + sum(1 for a in self.actions if a.removes_mailbox)


def _digest(arguments: Mapping[str, object], members: tuple[str, ...]) -> str:
    """What flowed (32 hex digits) and the members (32 more): which of them changed is told apart."""

    def half(value: object) -> str:
        return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:32]

    return half(sorted((k, str(v)) for k, v in arguments.items())) + half(sorted(members))


def attributes_changed(old: str, new: str) -> bool:
    return old[:32] != new[:32]


def _target(org: DN, obj: SourceObject) -> DN:
    if obj.kind == USER:
        return org.child("CN", obj.first("mail") or "")
    return org.child("CN", obj.first("cn") or DN.parse(obj.dn).rdn_value)


def plan(
    org: DN,
    snapshot: Snapshot,
    links: Mapping[str, Link],
    config: SyncConfig | None = None,
    *,
    domains: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Plan:
    config = config or SyncConfig()
    now = now or datetime.now(UTC)
    rules = config.rules
    result = Plan()
    # a delta lists what changed: the members it names may be unchanged objects already managed
    unchanged = {} if snapshot.full else _unchanged(snapshot, links)
    by_dn: dict[DN, str] = {}
    if any(o.kind == GROUP for o in snapshot.objects):  # members are named by DN
        by_dn = {DN.parse(link.source_dn): g for g, link in unchanged.items()}
        by_dn.update({DN.parse(o.dn): o.guid for o in snapshot.objects})
    in_scope: dict[str, SourceObject] = {}
    for obj in snapshot.objects:
        verdict = judge(obj, config.connection)
        if verdict.provisioned:
            in_scope[obj.guid] = obj
        else:
            result.skipped.append(Skipped(obj.dn, verdict.why))
    nested: dict[str, tuple[str, ...]] = {}
    for obj in in_scope.values():
        if obj.kind == GROUP:
            found = (by_dn.get(DN.parse(m)) for m in obj.get("member"))
            nested[obj.guid] = tuple(
                sorted(g for g in found if g is not None and (g in in_scope or g in unchanged))
            )
    for loop in _loops({g: tuple(m for m in ms if m in nested) for g, ms in nested.items()}):
        names = " → ".join(in_scope[g].dn for g in (*loop, loop[0]))
        for guid in loop:
            result.refused.append(
                Skipped(in_scope[guid].dn, f"a group loop: {names}; its groups are left as they are", guid)
            )
    refused = {DN.parse(r.source_dn) for r in result.refused}
    found_manager = _managers(links, in_scope, unchanged)

    def managers(source: str) -> DN | None:
        found = found_manager(source)
        if found is None:
            return None
        return DN.parse(found.managed_dn) if isinstance(found, Link) else _target(org, found)

    def waits_on(obj: SourceObject) -> frozenset[str]:
        """What ``obj`` names that was not managed before the run (see ``Plan.waiting``)."""
        named = [
            v
            for attr in (DN_VALUED if obj.kind == USER else ())
            for v in obj.get(attr)
            if not isinstance(found_manager(v), Link)
        ]
        if obj.kind == GROUP:
            for member in obj.get("member"):
                guid = by_dn.get(DN.parse(member))
                if guid is None or (link := links.get(guid)) is None or link.state != ACTIVE:
                    named.append(member)
        return frozenset(norm(dn) for dn in named) - {""}

    gone = [g for g in snapshot.deleted if g in links]
    if snapshot.full:
        gone += [g for g in links if g not in in_scope]
    else:  # changed so as to leave scope (a user whose mail was removed)
        gone += [o.guid for o in snapshot.objects if o.guid not in in_scope and o.guid in links]
    gone = list(dict.fromkeys(gone))
    # reconnection candidates: disconnected users within retention, and active ones whose source
    # object is gone (a held user is never disconnected), by their anchor's value
    orphans = {
        link.anchor: link
        for guid, link in links.items()
        if link.kind == USER
        and link.anchor
        and (reconnectable(link, now) or (link.state == ACTIVE and guid in gone))
    }
    claimed: set[str] = set()
    for obj in in_scope.values():
        if DN.parse(obj.dn) in refused:
            continue  # stays in scope: left as it is, neither changed nor deleted
        arguments = flowed(obj, domains, managers)
        result.waiting[obj.guid] = waits_on(obj)
        members = nested.get(obj.guid, ())
        digest = _digest(arguments, members)
        link = links.get(obj.guid)
        anchor = anchor_of(obj, rules) if obj.kind == USER else None
        if link is None or link.state != ACTIVE:
            orphan = orphans.get(anchor) if anchor and (link is None or link.state != ACTIVE) else None
            if orphan is not None and orphan.source_guid not in claimed:
                claimed.add(orphan.source_guid)
                wanted = services(obj, rules, had=orphan.services)
                result.actions.append(
                    Action(
                        RECONNECT,
                        USER,
                        obj.guid,
                        obj.dn,
                        DN.parse(orphan.managed_dn),
                        orphan.digest,
                        arguments,
                        services=wanted,
                        anchor=anchor,
                        previous=orphan.source_guid,
                    )
                )
                continue
            wanted = services(obj, rules, had=None) if obj.kind == USER else frozenset()
            result.actions.append(
                Action(
                    CREATE,
                    obj.kind,
                    obj.guid,
                    obj.dn,
                    _target(org, obj),
                    digest,
                    _create(org, obj, arguments),
                    members,
                    wanted,
                    anchor,
                    flow=arguments,
                )
            )
            continue
        wanted = services(obj, rules, had=link.services) if obj.kind == USER else frozenset()
        rename = ""  # a user is named by its mail; a contact or list by its source name
        if (
            obj.kind != USER
            and link.source_dn != obj.dn
            and (name := _target(org, obj)) != DN.parse(link.managed_dn)
        ):
            rename = name.rdn_value
        if link.digest != digest or link.source_dn != obj.dn or wanted != link.services:
            result.actions.append(
                Action(
                    UPDATE,
                    obj.kind,
                    obj.guid,
                    obj.dn,
                    DN.parse(link.managed_dn),
                    digest,
                    arguments,
                    members,
                    wanted,
                    anchor,
                    removes_mailbox=MAILBOX in link.services and MAILBOX not in wanted,
                    rename=rename,
                )
            )
    for guid in gone:
        link = links[guid]
        if link.state == ACTIVE and guid not in claimed:
            result.actions.append(Action(DELETE, link.kind, guid, link.source_dn, DN.parse(link.managed_dn)))
    for guid, link in links.items():
        timer = due(link, now)
        if timer is not None and guid not in claimed:
            result.actions.append(
                Action(
                    timer, link.kind, guid, link.source_dn, DN.parse(link.managed_dn), services=link.services
                )
            )
    # timers first (a purged user's names are free for a new one); users and contacts before the
    # groups they are members of, member groups before theirs; deprovisioning last (a group update
    # first takes a leaving member out)
    order = {USER: 0, CONTACT: 1, GROUP: 2}
    phase = {PURGE: 0, EXPIRE_IM: 0, DELETE: 2}
    nesting = _nesting({a.source_guid: a.members for a in result.actions if a.kind == GROUP})
    result.actions.sort(
        key=lambda a: (phase.get(a.verb, 1), order.get(a.kind, 3), nesting.get(a.source_guid, 0))
    )
    return result


def _unchanged(snapshot: Snapshot, links: Mapping[str, Link]) -> dict[str, Link]:
    """What a delta leaves as it was: the managed objects it neither lists nor deletes."""
    touched = {o.guid for o in snapshot.objects} | set(snapshot.deleted)
    return {g: link for g, link in links.items() if link.state == ACTIVE and g not in touched}


def _loops(members: Mapping[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The loops among groups (each a cycle of objectGUIDs), found one at a time."""
    graph = {g: set(ms) for g, ms in members.items()}
    loops = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as error:
            cycle = tuple(dict.fromkeys(error.args[1]))
            loops.append(cycle)
            for guid in cycle:
                graph.pop(guid, None)
            graph = {g: ms - set(cycle) for g, ms in graph.items()}
        else:
            return loops


def _nesting(members: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """How deep groups nest (a group holding none of these groups: 0); a loop stops the count."""
    depth: dict[str, int] = {}

    def of(guid: str, seen: frozenset[str]) -> int:
        if guid not in depth:
            inner = [m for m in members.get(guid, ()) if m in members and m not in seen]
            depth[guid] = 1 + max((of(m, seen | {guid}) for m in inner), default=-1)
        return depth[guid]

    for guid in members:
        of(guid, frozenset())
    return depth


def norm(dn: str) -> str:
    """A source DN's normal form (``DN.norm``); "" for a value that is not a DN (it names nobody)."""
    try:
        return DN.parse(dn).norm
    except InvalidArgument:
        return ""


def _managers(
    links: Mapping[str, Link], in_scope: Mapping[str, SourceObject], unchanged: Mapping[str, Link]
) -> Callable[[str], Link | SourceObject | None]:
    """The user a source manager attribute names, by its source DN: a linked user (a delta's
    unchanged ones too; managed as linked) or one this run creates (managed by ``_target``).  A
    user out of scope, not provisioned or being reconnected is not there: whoever it manages gets
    no manager until the run that provisions it (``Plan.waiting``)."""
    if not any(o.kind == USER and o.get("manager") for o in in_scope.values()):
        return lambda source: None
    # by the source DN as written (a forest names its own objects alike); parsed only on a miss
    users: dict[str, Link | SourceObject] = {
        k.source_dn.casefold(): k for k in unchanged.values() if k.kind == USER
    }
    for obj in in_scope.values():
        link = links.get(obj.guid)
        if obj.kind == USER and (link is None or link.state == ACTIVE):
            users[obj.dn.casefold()] = obj if link is None else link
    parsed: dict[DN, Link | SourceObject] = {}

    def managed(source: str) -> Link | SourceObject | None:
        found = users.get(source.casefold())
        if found is None:
            try:
                if not parsed:
                    parsed.update((DN.parse(dn), user) for dn, user in users.items())
                found = parsed.get(DN.parse(source))
            except InvalidArgument:  # not a DN: it names nobody
                return None
        return found

    return managed


def _create(org: DN, obj: SourceObject, flow: dict[str, str]) -> dict[str, object]:
    named: dict[str, object] = {k: v for k, v in flow.items() if k in ARGUMENTS and k != "proxyAddresses"}
    if obj.kind != USER and "proxyAddresses" in flow:  # a user's go with its mailbox (the runner)
        named["proxyAddresses"] = tuple(flow["proxyAddresses"].split())
    if obj.kind == USER:
        # no password: the account is logon-disabled; a mailbox and its proxies by the runner
        return {"container": org, "userPrincipalName": obj.first("mail"), "isAdmin": False, **named}
    name = _target(org, obj).rdn_value
    if obj.kind == CONTACT:
        return {"container": org, "name": name, "targetAddress": obj.first("mail"), **named}
    return {"container": org, "name": name, "securityEnabled": security_enabled(obj), **named}
