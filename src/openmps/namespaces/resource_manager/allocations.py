"""Allocating organizations on mail stores and mailboxes inside their organization's space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, MissingArgument, NotFound, QuotaExceeded
from openmps.hosting.organizations import organization_at
from openmps.namespaces.resource_manager.stores import NAMESPACE
from openmps.resources.interface import (
    BUSINESS,
    CONSUMER,
    KB_PER_MB,
    PUBLIC,
    MailboxPlace,
    ResourceLedger,
    Store,
)
from openmps.resources.placement import (
    MailboxAlgorithm,
    OrgAlgorithm,
    parse_algorithm,
    place_mailbox,
    plan_organization,
)
from openmps.resources.requests import (
    MailboxStore,
    MailStoreChange,
    OrganizationMailStore,
    PlacedMailbox,
    PlacedPublicFolder,
    SourceMailStore,
    checked_megabytes,
)
from openmps.types import DN, fold, shown

Ctx = ProcedureContext[Providers]
MAX_KILOBYTES = 1 << 40
CONSUMER_USER = "ConsumerUser"  # the customer type CreateConsumerUser records (Plans database)


def mailbox_of(providers: Providers, org: Org, dn: DN) -> str:
    """The objectGUID of a user of ``org``: the mailbox's identity in the ledger."""
    entry = providers.directory.find_many([dn], attributes=("objectClass",)).get(dn)
    if entry is None:
        raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
    if not entry.has_class("user") or not dn.is_within(org.dn, strict=True):
        raise InvalidArgument(f"{dn.ldap_path} is not a user of {org.dn.ldap_path}", dn=str(dn))
    return entry.guid


@dataclass(frozen=True)
class StoreShare:
    """An organization's space on one mail store."""

    server: Annotated[str, Xml("serverName", "the store's server")]
    name: Annotated[str, Xml("mailStoreName", "the store")]
    megabytes: Annotated[int, Xml("megabytes", "the organization's space on it")]
    used_kilobytes: Annotated[
        int | None, Xml("usedKilobytes", "what its mailboxes use (ReallocateOrganizationMailNoMove)")
    ] = None

    @classmethod
    def on(cls, store: Store, kilobytes: int, used_kilobytes: int | None = None) -> StoreShare:
        return cls(store.server_name, store.store_name, kilobytes // KB_PER_MB, used_kilobytes)


@dataclass(frozen=True)
class OrganizationStorage:
    """An organization's mail storage, store by store."""

    stores: Annotated[tuple[StoreShare, ...], Xml("sourceMailStores", item="sourceMailStore")]


@dataclass(frozen=True)
class ReleasedStorage:
    """The mail storage an organization gave back (DeallocateOrganization)."""

    XML_ELEMENT: ClassVar[str] = "released"
    megabytes: Annotated[int, Xml("megabytes", "all of it, in whole megabytes")]


def placed_mailbox(place: MailboxPlace) -> PlacedMailbox:
    """Where a mailbox is, with its size."""
    return PlacedMailbox(place.store.server_name, place.store.store_name, place.size_kb)


@procedure(NAMESPACE, "AllocateOrganization", requires=Role.DOMAIN_ADMIN)
class AllocateOrganization:
    """Give a business organization mail storage: by amount and algorithm, or on named stores."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    mail_store: Annotated[
        OrganizationMailStore, Xml("mailStore", "megabytes by an algorithm, or sourceMailStores")
    ]

    def run(self, ctx: Ctx) -> OrganizationStorage:
        providers = ctx.providers
        org = organization_at(providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        ledger = providers.resources
        request = self.mail_store
        if request.sources is not None:  # explicit stores: all of them or nothing (the request rolls back)
            pieces = []
            for op, store_id, kilobytes in source_stores(providers, request.sources):
                if op != "allocate":
                    raise InvalidArgument(
                        "AllocateOrganization only allocates: op='deallocate' is for resizing"
                    )
                pieces.append((store_id, kilobytes))
        else:
            if request.megabytes is None:
                raise MissingArgument("'mailStore/megabytes' is required", argument="mailStore/megabytes")
            pieces = place_organization(
                ledger,
                org=org.entry.guid,
                kilobytes=request.megabytes * KB_PER_MB,
                shared=request.shared,
                algorithm=parse_algorithm(OrgAlgorithm, request.algorithm, OrgAlgorithm.TIGHT_PACK),
            )
        ledger.allocate(org.entry.guid, pieces)
        stores = ledger.stores_by_id([store_id for store_id, _ in pieces])
        return OrganizationStorage(tuple(StoreShare.on(stores[i], kilobytes) for i, kilobytes in pieces))


def place_organization(
    ledger: ResourceLedger, *, org: str, kilobytes: int, shared: bool, algorithm: OrgAlgorithm
) -> list[tuple[int, int]]:
    """Placement over the stores that can matter: the ledger sorts, placement decides."""
    rooms = ledger.candidates(
        BUSINESS,
        org=org,
        shared=shared,
        most_free_first=algorithm is OrgAlgorithm.MIN_STORE_COUNT,
        kilobytes=kilobytes,
    )
    return plan_organization(rooms, org=org, kilobytes=kilobytes, shared=shared, algorithm=algorithm)


def source_stores(providers: Providers, sources: tuple[SourceMailStore, ...]) -> list[tuple[str, int, int]]:
    """(op, store id, kilobytes) of each ``<sourceMailStore op="allocate|deallocate">``."""
    found = []
    for item in sources:
        store = providers.resources.store(BUSINESS, item.name)
        if store.server_name.casefold() != item.server.casefold():
            raise NotFound(f"'{store.store_name}' is not on server '{item.server}'")
        found.append((item.op, store.store_id, item.megabytes * KB_PER_MB))
    if not found:
        raise InvalidArgument("'mailStore/sourceMailStores' names no store")
    return found


def organization_storage(providers: Providers, org: str) -> OrganizationStorage:
    """An organization's mail storage, store by store, with what its mailboxes use of each."""
    slots = providers.resources.slots(org, BUSINESS)
    stores = providers.resources.stores_by_id([s.store_id for s in slots])
    return OrganizationStorage(
        tuple(StoreShare.on(stores[s.store_id], s.allocated_kb, s.used_kb) for s in slots)
    )


@procedure(NAMESPACE, "ReallocateOrganizationMailNoMove", requires=Role.DOMAIN_ADMIN)
class ReallocateOrganizationMailNoMove:
    """Change how much mail storage an organization may use, without moving a mailbox.

    ``mailStore/megabytes`` is the change: an increase is placed automatically (on one of the
    organization's stores when one can take it all, else by the algorithm); a decrease only when
    the organization has exactly one store.  Otherwise ``sourceMailStores`` says which stores gain
    (op="allocate") or give back (op="deallocate") how much.  Space its mailboxes use never goes.
    """

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    mail_store: Annotated[
        MailStoreChange, Xml("mailStore", "megabytes (signed change); or sourceMailStores/sourceMailStore@op")
    ]

    def run(self, ctx: Ctx) -> OrganizationStorage:
        providers = ctx.providers
        org = organization_at(
            providers, self.organization, OrgType.CUSTOMER, wanted="business one"
        ).entry.guid
        ledger = providers.resources
        request = self.mail_store
        if request.sources is not None:
            changes = source_stores(providers, request.sources)
            for op, store_id, kilobytes in changes:  # give back first: the space may be reused below
                if op == "deallocate":
                    ledger.shrink(org, store_id, kilobytes)
            grow = [(store_id, kb) for op, store_id, kb in changes if op == "allocate"]
            if grow:
                ledger.allocate(org, grow)
            return organization_storage(providers, org)
        change = request.megabytes
        if change is None:
            raise InvalidArgument(
                "'mailStore/megabytes' must be a non-zero whole number in ASCII digits, not ''"
            )
        delta = abs(change) * KB_PER_MB
        slots = ledger.slots(org, BUSINESS)
        if change < 0:
            if len(slots) != 1:
                raise InvalidArgument(
                    f"the organization has {len(slots)} mail stores: say in sourceMailStores which "
                    "give back space",
                    argument="sourceMailStores",
                )
            ledger.shrink(org, slots[0].store_id, delta)
            return organization_storage(providers, org)
        mine = ledger.stores_by_id([s.store_id for s in slots]).values()
        roomy = [s for s in mine if s.free_kb >= delta]
        if roomy:  # fewest stores per organization: grow where it already is
            pieces = [(max(roomy, key=lambda s: (s.free_kb, -s.store_id)).store_id, delta)]
        else:
            pieces = place_organization(
                ledger,
                org=org,
                kilobytes=delta,
                shared=request.shared,
                algorithm=parse_algorithm(OrgAlgorithm, request.algorithm, OrgAlgorithm.MIN_STORE_COUNT),
            )
        ledger.allocate(org, pieces)
        return organization_storage(providers, org)


@procedure(NAMESPACE, "AllocatePublicFolder", requires=Role.DOMAIN_ADMIN)
class AllocatePublicFolder:
    """Give a business organization public-folder storage on one public store (a folder lives in one):
    the one with the most room, on the named server if one is given."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    size: Annotated[int, Xml("megabytes", "public-folder storage")]
    server: Annotated[
        str | None, Xml("serverName", "the public store's server (sourcePublicStoreServer)")
    ] = None

    def run(self, ctx: Ctx) -> PlacedPublicFolder:
        org = organization_at(ctx.providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        ledger = ctx.providers.resources
        kilobytes = checked_megabytes(self.size) * KB_PER_MB
        stores = ledger.stores(PUBLIC)
        if self.server is not None:
            stores = [s for s in stores if s.server_name.casefold() == self.server.casefold()]
            if not stores:
                raise NotFound(f"no public store is registered on server '{self.server}'", server=self.server)
        roomy = [s for s in stores if s.free_kb >= kilobytes]
        if not roomy:
            most = max((s.free_kb for s in stores), default=0) // KB_PER_MB
            raise QuotaExceeded(
                f"no public store has {self.size} MB free (the most on one store is {most} MB)",
                needed_kb=kilobytes,
            )
        store = max(roomy, key=lambda s: (s.free_kb, -s.store_id))
        ledger.allocate(org.entry.guid, [(store.store_id, kilobytes)])
        return PlacedPublicFolder(store.server_name, store.store_name, self.size)


@procedure(NAMESPACE, "DeallocatePublicFolder", requires=Role.DOMAIN_ADMIN)
class DeallocatePublicFolder:
    """Return public-folder storage of an organization to its public store."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    store_name: Annotated[str, Xml("publicStoreName", "the public store")]
    size: Annotated[int, Xml("megabytes", "how much to return")]

    def run(self, ctx: Ctx) -> None:
        org = organization_at(ctx.providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        ledger = ctx.providers.resources
        store = ledger.store(PUBLIC, self.store_name)
        ledger.shrink(org.entry.guid, store.store_id, checked_megabytes(self.size) * KB_PER_MB)


@procedure(NAMESPACE, "DeallocateOrganization", requires=Role.DOMAIN_ADMIN)
class DeallocateOrganization:
    """Return all of an organization's mail storage; refused while it has mailboxes."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]

    def run(self, ctx: Ctx) -> ReleasedStorage:
        org = organization_at(ctx.providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        released = ctx.providers.resources.deallocate_organization(org.entry.guid)
        return ReleasedStorage(released // KB_PER_MB)


@procedure(NAMESPACE, "AllocateMailbox", requires=Role.DOMAIN_ADMIN)
class AllocateMailbox:
    """Place a mailbox on one of its organization's stores (tightPack or level, or a named store)."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the business organization")]
    mailbox: Annotated[DN, Xml("mailbox", "LDAP path of the user")]
    kilobytes: Annotated[int, Xml("kilobytes", "mailbox size")]
    mail_store: Annotated[
        MailboxStore | None, Xml("mailStore", "@algorithm, or serverName + mailStoreName")
    ] = None

    def run(self, ctx: Ctx) -> PlacedMailbox:
        providers = ctx.providers
        ledger = providers.resources
        org = organization_at(providers, self.organization, OrgType.CUSTOMER, wanted="business one")
        mailbox = mailbox_of(providers, org, self.mailbox)
        if not 0 < self.kilobytes <= MAX_KILOBYTES:
            raise InvalidArgument(f"'kilobytes' must be from 1 to {MAX_KILOBYTES}, not {self.kilobytes}")
        slots = ledger.slots(org.entry.guid, BUSINESS)  # mailboxes live on mail stores only
        named = None
        algorithm = MailboxAlgorithm.TIGHT_PACK
        if self.mail_store is not None:
            server, name = self.mail_store.server, self.mail_store.name
            if (server is None) != (name is None):
                raise InvalidArgument("'mailStore/serverName' and 'mailStore/mailStoreName' go together")
            if name is not None:
                named = ledger.store(BUSINESS, name)
                if server is not None and named.server_name.casefold() != server.casefold():
                    raise NotFound(f"'{name}' is not on server '{server}'")
                slots = [s for s in slots if s.store_id == named.store_id]
                if not slots:
                    raise InvalidArgument(f"the organization holds no space on '{name}'")
            algorithm = parse_algorithm(MailboxAlgorithm, self.mail_store.algorithm, algorithm)
        slot = place_mailbox(slots, kilobytes=self.kilobytes, algorithm=algorithm)
        ledger.place_mailbox(
            org=org.entry.guid, mailbox=mailbox, store_id=slot.store_id, kilobytes=self.kilobytes
        )
        return PlacedMailbox(slot.server, slot.name)


@procedure(NAMESPACE, "AllocateConsumerUserMailbox", requires=Role.DOMAIN_ADMIN)
class AllocateConsumerUserMailbox:
    """Place a consumer's mailbox on a consumer store: the one with the most room, or the named one.

    A consumer has no organization pool: the mailbox gets space of its own on the store (in the
    ledger, a pool held by the consumer itself), so the same invariants hold.
    """

    user_principal_name: Annotated[str, Xml("userPrincipalName", "the consumer's UPN (MPS compatibility)")]
    mailbox: Annotated[DN, Xml("mailbox", "LDAP path of the consumer user")]
    kilobytes: Annotated[int, Xml("kilobytes", "mailbox size")]
    preferred_dc: Annotated[str | None, Xml("preferredDomainController", "accepted for MPS")] = None
    server: Annotated[str | None, Xml("mailStoreServer", "only this server's consumer stores")] = None
    store_name: Annotated[str | None, Xml("mailStoreName", "this consumer store")] = None

    def run(self, ctx: Ctx) -> PlacedMailbox:
        providers = ctx.providers
        ledger = providers.resources
        wanted = ("objectClass", "userPrincipalName")
        entry = providers.directory.find_many([self.mailbox], attributes=wanted).get(self.mailbox)
        if entry is None or not entry.has_class("user"):
            raise InvalidArgument(f"{self.mailbox.ldap_path} is not a user", dn=str(self.mailbox))
        # Consumer stores are for consumers only: a business user placed here would hold space
        # outside its organization's pool, where no quota of the organization counts it.
        record = providers.plans.customer(entry.guid)
        if record is None or record.customer_type != CONSUMER_USER:
            raise InvalidArgument(
                f"{self.mailbox.ldap_path} is not a consumer user (CreateConsumerUser makes one)",
                argument="mailbox",
                dn=str(self.mailbox),
            )
        upn = entry.first("userPrincipalName") or ""
        if fold(upn) != fold(self.user_principal_name):
            raise InvalidArgument(
                f"'userPrincipalName' {shown(self.user_principal_name)} is not the UPN of "
                f"{self.mailbox.ldap_path}",
                argument="userPrincipalName",
            )
        if not 0 < self.kilobytes <= MAX_KILOBYTES:
            raise InvalidArgument(f"'kilobytes' must be from 1 to {MAX_KILOBYTES}, not {self.kilobytes}")
        stores = ledger.stores(CONSUMER)
        if self.store_name is not None:
            stores = [ledger.store(CONSUMER, self.store_name)]  # NotFound: not a consumer store
        if self.server is not None:
            stores = [s for s in stores if s.server_name.casefold() == self.server.casefold()]
            if not stores:
                raise NotFound(
                    f"no consumer store is registered on server '{self.server}'", server=self.server
                )
        roomy = [s for s in stores if s.free_kb >= self.kilobytes]
        if not roomy:
            raise QuotaExceeded(f"no consumer store has {self.kilobytes} KB free", needed_kb=self.kilobytes)
        store = max(roomy, key=lambda s: (s.free_kb, -s.store_id))
        ledger.allocate(entry.guid, [(store.store_id, self.kilobytes)])
        ledger.place_mailbox(
            org=entry.guid, mailbox=entry.guid, store_id=store.store_id, kilobytes=self.kilobytes
        )
        return PlacedMailbox(store.server_name, store.store_name)


@procedure(NAMESPACE, "DeallocateMailbox", requires=Role.DOMAIN_ADMIN)
class DeallocateMailbox:
    """Return a mailbox's space to its organization."""

    mailbox: Annotated[DN, Xml("mailbox", "LDAP path of the user")]

    def run(self, ctx: Ctx) -> PlacedMailbox:
        guid = ctx.providers.directory.get(self.mailbox).guid
        place = ctx.providers.resources.release_mailbox(guid)
        if place.org == guid:  # a consumer's own pool goes with its mailbox
            ctx.providers.resources.deallocate_organization(guid)
        return placed_mailbox(place)


@procedure(NAMESPACE, "QueryMailboxAllocation", requires=Role.DOMAIN_ADMIN, kind="read")
class QueryMailboxAllocation:
    """Where a mailbox is allocated, and how large it is."""

    mailbox: Annotated[DN, Xml("mailbox", "LDAP path of the user")]

    def run(self, ctx: Ctx) -> PlacedMailbox:
        guid = ctx.providers.directory.get(self.mailbox).guid
        place = ctx.providers.resources.mailbox(guid)
        if place is None:
            raise NotFound(f"{self.mailbox.ldap_path} has no mailbox allocation", dn=str(self.mailbox))
        return placed_mailbox(place)


PROCEDURES = (
    AllocateOrganization,
    ReallocateOrganizationMailNoMove,
    AllocatePublicFolder,
    DeallocatePublicFolder,
    DeallocateOrganization,
    AllocateMailbox,
    AllocateConsumerUserMailbox,
    DeallocateMailbox,
    QueryMailboxAllocation,
)
