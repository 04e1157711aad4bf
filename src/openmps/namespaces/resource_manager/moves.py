"""Exchange Resource Manager Ex ReallocateBusinessMailstoreResource: a business store resized by an
amount (reference §2.4), or an organization's mailboxes moved off it to other stores (issue 16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, MissingArgument, QuotaExceeded
from openmps.hosting import exchange
from openmps.hosting.organizations import organization_at
from openmps.namespaces.resource_manager.allocations import Ctx, OrganizationStorage, organization_storage
from openmps.namespaces.resource_manager.stores import EX_NAMESPACE, MailStore, mail_store_of
from openmps.resources.interface import BUSINESS, KB_PER_MB, MailboxPlace, Store
from openmps.resources.requests import MAX_MEGABYTES
from openmps.types import DN


@dataclass(frozen=True)
class TargetMailStore:
    """A business store mailboxes may move to."""

    name: Annotated[str, Xml("mailStoreName", "the store")]
    server: Annotated[str | None, Xml("serverName", "its server, checked if given")] = None


@dataclass(frozen=True)
class MovedMailbox:
    """A mailbox moved, and where to."""

    user: Annotated[DN, Xml("@path", "its user")]
    server: Annotated[str, Xml("serverName", "its new store's server")]
    name: Annotated[str, Xml("mailStoreName", "its new store")]
    kilobytes: Annotated[int, Xml("kilobytes", "its size, allocated there")]


@dataclass(frozen=True)
class Reallocated:
    """The store resized; or the mailboxes moved and the organization's storage after the move."""

    mail_store: Annotated[MailStore | None, Xml("mailStore", "the store resized (with megabytes)")] = None
    moved: Annotated[
        tuple[MovedMailbox, ...] | None, Xml("movedMailboxes", "with organization", item="mailbox")
    ] = None
    storage: Annotated[
        OrganizationStorage | None, Xml(".", "the organization's storage, with organization")
    ] = None


@procedure(EX_NAMESPACE, "ReallocateBusinessMailstoreResource", requires=Role.DOMAIN_ADMIN)
class ReallocateBusinessMailstoreResource:
    """Resize a business mail store by an amount, or move an organization's mailboxes off it.

    With ``megabytes`` (reference §2.4, MPS's older form of ModifyResources): the store grows or
    shrinks by that much, never below what is allocated on it nor to nothing, in one guarded update.
    With ``organization`` and ``targetMailStores`` instead (what issue 16 asks; an OpenMPS
    extension): every mailbox of the organization on the store moves to the first target with room
    for it, and the organization's space moves with them (given back here, allocated there, so its
    total stays); each user's homeMDB and msExchHomeServerName are stamped anew.  A target without
    room refuses the whole request: nothing is half moved.
    """

    store_name: Annotated[str, Xml("mailStoreName", "the business mail store")]
    delta: Annotated[
        int | None, Xml("megabytes", "the change: more megabytes, or fewer with a minus sign")
    ] = None
    server: Annotated[str | None, Xml("serverName", "its server, checked if given")] = None
    organization: Annotated[
        DN | None, Xml("organization", "the business organization whose mailboxes move (not with megabytes)")
    ] = None
    targets: Annotated[
        tuple[TargetMailStore, ...] | None,
        Xml("targetMailStores", "the stores they may move to, in order", item="targetMailStore"),
    ] = None

    def run(self, ctx: Ctx) -> Reallocated:
        store = self._store(ctx, self.store_name, self.server, "serverName")
        if self.organization is None:
            if self.targets is not None:
                raise MissingArgument("'targetMailStores' needs 'organization'", argument="organization")
            return Reallocated(mail_store=mail_store_of(self._resize(ctx, store)))
        if self.delta is not None:
            raise InvalidArgument(
                "'megabytes' resizes the store and 'organization' moves mailboxes off it: give one",
                argument="megabytes",
            )
        if not self.targets:
            raise MissingArgument("'targetMailStores' names no store to move to", argument="targetMailStores")
        return self._move(ctx, store)

    def _store(self, ctx: Ctx, name: str, server: str | None, where: str) -> Store:
        store = ctx.providers.resources.store(BUSINESS, name)
        if server is not None and server.casefold() != store.server_name.casefold():
            raise InvalidArgument(
                f"'{where}': the store '{store.store_name}' is on {store.server_name}, not {server}",
                argument=where,
            )
        return store

    def _resize(self, ctx: Ctx, store: Store) -> Store:
        if self.delta is None:
            raise MissingArgument("'megabytes' (or 'organization') is required", argument="megabytes")
        if self.delta == 0 or abs(self.delta) > MAX_MEGABYTES:
            raise InvalidArgument(
                f"'megabytes' must be a change of 1 to {MAX_MEGABYTES} either way, not {self.delta}",
                argument="megabytes",
            )
        return ctx.providers.resources.resize_store_by(
            BUSINESS, store.store_name, self.delta, at_most=MAX_MEGABYTES
        )

    def _move(self, ctx: Ctx, source: Store) -> Reallocated:
        providers = ctx.providers
        assert self.organization is not None and self.targets is not None
        org = organization_at(providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        guid = org.entry.guid
        targets: list[Store] = []
        for target in self.targets:
            store = self._store(ctx, target.name, target.server, "targetMailStore/serverName")
            if store.store_id == source.store_id or store in targets:
                raise InvalidArgument(
                    f"'targetMailStores' names '{store.store_name}' twice or as the source store",
                    argument="targetMailStores",
                )
            targets.append(store)
        ledger = providers.resources
        moving = [m for m in ledger.mailboxes(guid) if m.store.store_id == source.store_id]
        plan = _plan(moving, targets)  # refused before anything is written when a mailbox fits nowhere
        users = _users(ctx, org.dn, [m.mailbox for m in moving])
        for place in moving:
            ledger.release_mailbox(place.mailbox)
        if moving:
            ledger.shrink(guid, source.store_id, sum(m.size_kb for m in moving))
        pieces: dict[int, int] = {}
        for place, store in plan:
            pieces[store.store_id] = pieces.get(store.store_id, 0) + place.size_kb
        ledger.allocate(guid, list(pieces.items()))  # guarded: a concurrent change cannot over-book
        layout = providers.layout
        moved = []
        for place, store in plan:
            ledger.place_mailbox(
                org=guid, mailbox=place.mailbox, store_id=store.store_id, kilobytes=place.size_kb
            )
            home = exchange.home_mdb(layout, store.server_name, store.store_name)
            providers.directory.modify(
                users[place.mailbox],
                [
                    Change.replace("homeMDB", str(home)),
                    Change.replace(
                        "msExchHomeServerName", exchange.home_server_name(layout, store.server_name)
                    ),
                ],
            )
            moved.append(
                MovedMailbox(users[place.mailbox], store.server_name, store.store_name, place.size_kb)
            )
        return Reallocated(moved=tuple(moved), storage=organization_storage(providers, guid))


def _plan(moving: list[MailboxPlace], targets: list[Store]) -> list[tuple[MailboxPlace, Store]]:
    """Each mailbox, largest first, on the first target whose free space still holds it."""
    free = {t.store_id: t.free_kb for t in targets}
    plan = []
    for place in sorted(moving, key=lambda m: (-m.size_kb, m.mailbox)):
        store = next((t for t in targets if free[t.store_id] >= place.size_kb), None)
        if store is None:
            left = ", ".join(f"'{t.store_name}' {free[t.store_id] // KB_PER_MB} MB" for t in targets)
            raise QuotaExceeded(
                f"the target stores lack room for a mailbox of {place.size_kb} KB (free: {left}); "
                "nothing was moved",
                argument="targetMailStores",
            )
        free[store.store_id] -= place.size_kb
        plan.append((place, store))
    return plan


def _users(ctx: Ctx, org: DN, mailboxes: list[str]) -> dict[str, DN]:
    """The user of each mailbox (its objectGUID), among the organization's users with a mailbox."""
    wanted = set(mailboxes)
    found = {
        e.guid: e.dn
        for e in ctx.providers.directory.search(org, Scope.SUBTREE, filters.present("homeMDB"))
        if e.guid in wanted
    }
    missing = wanted - found.keys()
    if missing:
        raise InvalidArgument(
            f"{len(missing)} mailbox(es) of the organization have no user with a homeMDB under it; "
            "openmps check reports the drift",
            argument="organization",
        )
    return found


EX_ONLY = (ReallocateBusinessMailstoreResource,)  # documented under the Ex name only
