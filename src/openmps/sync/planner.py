"""The source against what is managed: the actions a run takes.  A preview is the plan alone."""

from __future__ import annotations

import graphlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from openmps.sync.interface import ACTIVE, Link
from openmps.sync.rules import flowed, judge
from openmps.sync.source import CONTACT, GROUP, USER, Snapshot, SourceObject
from openmps.types import DN

CREATE, UPDATE, DELETE = "create", "update", "delete"


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


@dataclass(frozen=True)
class Skipped:
    source_dn: str
    why: str


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)  # object errors found before any write

    def count(self, verb: str) -> int:
        return sum(1 for a in self.actions if a.verb == verb)


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


def plan(org: DN, snapshot: Snapshot, links: Mapping[str, Link]) -> Plan:
    result = Plan()
    # a delta lists what changed: the members it names may be unchanged objects already managed
    unchanged = {} if snapshot.full else _unchanged(snapshot, links)
    by_dn: dict[DN, str] = {}
    if any(o.kind == GROUP for o in snapshot.objects):  # members are named by DN
        by_dn = {DN.parse(link.source_dn): g for g, link in unchanged.items()}
        by_dn.update({DN.parse(o.dn): o.guid for o in snapshot.objects})
    in_scope: dict[str, SourceObject] = {}
    for obj in snapshot.objects:
        verdict = judge(obj)
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
                Skipped(in_scope[guid].dn, f"a group loop: {names}; its groups are left as they are")
            )
    refused = {DN.parse(r.source_dn) for r in result.refused}
    for obj in in_scope.values():
        if DN.parse(obj.dn) in refused:
            continue  # stays in scope: left as it is, neither changed nor deleted
        arguments = dict(flowed(obj))
        members = nested.get(obj.guid, ())
        digest = _digest(arguments, members)
        link = links.get(obj.guid)
        if link is None or link.state != ACTIVE:
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
                )
            )
        elif link.digest != digest or link.source_dn != obj.dn:
            result.actions.append(
                Action(
                    UPDATE, obj.kind, obj.guid, obj.dn, DN.parse(link.managed_dn), digest, arguments, members
                )
            )
    gone = [g for g in snapshot.deleted if g in links]
    if snapshot.full:
        gone += [g for g in links if g not in in_scope]
    else:  # changed so as to leave scope (a user whose mail was removed)
        gone += [o.guid for o in snapshot.objects if o.guid not in in_scope and o.guid in links]
    for guid in dict.fromkeys(gone):
        link = links[guid]
        if link.state == ACTIVE:
            result.actions.append(Action(DELETE, link.kind, guid, link.source_dn, DN.parse(link.managed_dn)))
    # users and contacts before the groups they are members of, member groups before theirs
    order = {USER: 0, CONTACT: 1, GROUP: 2}
    nesting = _nesting({a.source_guid: a.members for a in result.actions if a.kind == GROUP})
    result.actions.sort(key=lambda a: (a.verb == DELETE, order.get(a.kind, 3), nesting.get(a.source_guid, 0)))
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


def _create(org: DN, obj: SourceObject, flow: dict[str, str]) -> dict[str, object]:
    if obj.kind == USER:
        # no password: the account is logon-disabled; a mailbox by the default rule (plan added by the runner)
        return {"container": org, "userPrincipalName": obj.first("mail"), "isAdmin": False, **flow}
    name = _target(org, obj).rdn_value
    if obj.kind == CONTACT:
        return {"container": org, "name": name, "targetAddress": obj.first("mail"), **flow}
    return {"container": org, "name": name, **flow}
