"""Registering mail stores, public stores and front-end servers; resizing and unregistering them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.engine.results import flag
from openmps.errors import InvalidArgument
from openmps.resources.interface import BUSINESS, CONSUMER, KB_PER_MB, PUBLIC, Store
from openmps.resources.requests import (
    MAX_MEGABYTES,
    FrontEndServer,
    NewMailStore,
    NewPublicStore,
    checked_megabytes,
)

NAMESPACE = "Exchange Resource Manager"
EX_NAMESPACE = "Exchange Resource Manager Ex"  # MPS answers the same procedures under this name too
Ctx = ProcedureContext[Providers]
KINDS = {"mailStore": BUSINESS, "consumerMailStore": CONSUMER, "publicStore": PUBLIC}


@dataclass(frozen=True)
class StoreSpace:
    """A registered store's size, what is allocated on it and free, and who may hold it."""

    megabytes: Annotated[int, Xml("megabytes", "its size")]
    allocated_megabytes: Annotated[int, Xml("allocatedMegabytes", "given to organizations")]
    free_megabytes: Annotated[int, Xml("freeMegabytes", "not given yet")]
    shared: Annotated[bool, Xml("shared", "1: organizations may share it", show=flag)]
    organizations: Annotated[int, Xml("organizations", "how many hold space on it")]

    @classmethod
    def of(cls, store: Store) -> StoreSpace:
        return cls(
            store.capacity_kb // KB_PER_MB,
            store.allocated_kb // KB_PER_MB,
            store.free_kb // KB_PER_MB,
            store.shared,
            store.organizations,
        )


@dataclass(frozen=True)
class MailStore:
    """A registered mail store (business or consumer) and its space."""

    server: Annotated[str, Xml("serverName", "its server")]
    name: Annotated[str, Xml("mailStoreName", "its name")]
    space: Annotated[StoreSpace, Xml(".")]


@dataclass(frozen=True)
class PublicStore:
    """A registered public store and its space."""

    server: Annotated[str, Xml("serverName", "its server")]
    name: Annotated[str, Xml("publicStoreName", "its name")]
    space: Annotated[StoreSpace, Xml(".")]


def _mail_store(store: Store) -> MailStore:
    return MailStore(store.server_name, store.store_name, StoreSpace.of(store))


def _public_store(store: Store) -> PublicStore:
    return PublicStore(store.server_name, store.store_name, StoreSpace.of(store))


@dataclass(frozen=True)
class ExchangeResources:
    """Registered stores by kind, each with its space; the front-end servers (GetExchangeResources)."""

    XML_ELEMENT: ClassVar[str] = "resources"
    mail_stores: Annotated[tuple[MailStore, ...], Xml(".", "business mail stores", item="mailStore")]
    consumer_stores: Annotated[
        tuple[MailStore, ...], Xml(".", "consumer mail stores", item="consumerMailStore")
    ]
    public_stores: Annotated[tuple[PublicStore, ...], Xml(".", "public stores", item="publicStore")]
    front_ends: Annotated[
        tuple[FrontEndServer, ...] | None,
        Xml("frontEndServers", "front-end servers (GetExchangeResources)", item="frontEndServer"),
    ] = None

    @classmethod
    def of(cls, stores: Iterable[Store], front_ends: Iterable[str] | None = None) -> ExchangeResources:
        """``stores`` by kind, each kind in the order given."""
        by_kind: dict[str, list[Store]] = {BUSINESS: [], CONSUMER: [], PUBLIC: []}
        for store in stores:
            by_kind[store.kind].append(store)
        return cls(
            tuple(_mail_store(s) for s in by_kind[BUSINESS]),
            tuple(_mail_store(s) for s in by_kind[CONSUMER]),
            tuple(_public_store(s) for s in by_kind[PUBLIC]),
            None if front_ends is None else tuple(FrontEndServer(server) for server in front_ends),
        )


@dataclass(frozen=True)
class ResizedStore:
    """The store ModifyResources resized, with its space: the one field of its kind."""

    mail_store: Annotated[MailStore | None, Xml("mailStore", "a business mail store")] = None
    consumer_store: Annotated[MailStore | None, Xml("consumerMailStore", "a consumer mail store")] = None
    public_store: Annotated[PublicStore | None, Xml("publicStore", "a public store")] = None

    @classmethod
    def of(cls, store: Store) -> ResizedStore:
        if store.kind == PUBLIC:
            return cls(public_store=_public_store(store))
        if store.kind == CONSUMER:
            return cls(consumer_store=_mail_store(store))
        return cls(mail_store=_mail_store(store))


@procedure(NAMESPACE, "AddExchangeResources", requires=Role.DOMAIN_ADMIN)
class AddExchangeResources:
    """Register existing mail stores, public stores, consumer stores and front-end servers."""

    mail_stores: Annotated[
        tuple[NewMailStore, ...] | None, Xml("mailStores", "business mail stores", item="mailStore")
    ] = None
    public_stores: Annotated[
        tuple[NewPublicStore, ...] | None, Xml("publicStores", "public stores", item="publicStore")
    ] = None
    front_ends: Annotated[
        tuple[FrontEndServer, ...] | None, Xml("frontEndServers", "front-end servers", item="frontEndServer")
    ] = None
    consumer_stores: Annotated[
        tuple[NewMailStore, ...] | None, Xml("consumerMailStores", "consumer mail stores", item="mailStore")
    ] = None
    preferred_dc: Annotated[
        str | None, Xml("preferredDomainController", "accepted for MPS compatibility")
    ] = None

    def run(self, ctx: Ctx) -> ExchangeResources:
        ledger = ctx.providers.resources
        added: list[Store] = []
        for kind, stores in ((BUSINESS, self.mail_stores), (CONSUMER, self.consumer_stores)):
            for store in stores or ():
                shared = store.shared if kind == BUSINESS else True
                added.append(
                    ledger.add_store(
                        kind=kind,
                        server=store.server,
                        name=store.name,
                        megabytes=store.megabytes,
                        shared=shared,
                    )
                )
        for public in self.public_stores or ():
            name = public.name or f"Public Folder Store ({public.server})"
            added.append(
                ledger.add_store(
                    kind=PUBLIC, server=public.server, name=name, megabytes=public.megabytes, shared=True
                )
            )
        for front_end in self.front_ends or ():
            ledger.add_front_end(front_end.server)
        if not added and self.front_ends is None:
            raise InvalidArgument(
                "nothing to add: give mailStores, publicStores, consumerMailStores or frontEndServers"
            )
        return ExchangeResources.of(added)


@procedure(NAMESPACE, "GetExchangeResources", requires=Role.DOMAIN_ADMIN, kind="read")
class GetExchangeResources:
    """Every registered store with its size, what is allocated, what is free, and how many hold it."""

    preferred_dc: Annotated[
        str | None, Xml("preferredDomainController", "accepted for MPS compatibility")
    ] = None

    def run(self, ctx: Ctx) -> ExchangeResources:
        ledger = ctx.providers.resources
        return ExchangeResources.of(ledger.stores(), ledger.front_ends())


def _kind(store_type: str | None) -> str:
    if store_type is None:
        return BUSINESS
    if store_type not in KINDS:
        raise InvalidArgument(f"'storeType' must be one of {', '.join(KINDS)}, not '{store_type}'")
    return KINDS[store_type]


@procedure(NAMESPACE, "ModifyResources", requires=Role.DOMAIN_ADMIN)
class ModifyResources:
    """Set a store's registered size; it cannot shrink below what is allocated on it."""

    store_name: Annotated[str, Xml("mailStoreName", "the store to resize")]
    size: Annotated[int, Xml("megabytes", "the new size")]
    store_type: Annotated[
        str | None, Xml("storeType", "mailStore (default), consumerMailStore or publicStore")
    ] = None

    def run(self, ctx: Ctx) -> ResizedStore:
        checked_megabytes(self.size)
        return ResizedStore.of(
            ctx.providers.resources.resize_store(_kind(self.store_type), self.store_name, self.size)
        )


@procedure(EX_NAMESPACE, "ReallocateBusinessMailstoreResource", requires=Role.DOMAIN_ADMIN)
class ReallocateBusinessMailstoreResource:
    """Grow or shrink a business mail store's registered size by ``megabytes`` (reference §2.4:
    MPS's older form of ModifyResources, which sets the size).  It cannot shrink below what is
    allocated on it, nor to nothing; the guarded resize holds that against concurrent requests."""

    store_name: Annotated[str, Xml("mailStoreName", "the business mail store")]
    delta: Annotated[int, Xml("megabytes", "the change: more megabytes, or fewer with a minus sign")]
    server: Annotated[str | None, Xml("serverName", "its server, checked if given")] = None

    def run(self, ctx: Ctx) -> ResizedStore:
        ledger = ctx.providers.resources
        store = ledger.store(BUSINESS, self.store_name)
        if self.server is not None and self.server.casefold() != store.server_name.casefold():
            raise InvalidArgument(
                f"'serverName': the store '{store.store_name}' is on {store.server_name}, not {self.server}",
                argument="serverName",
            )
        if self.delta == 0 or abs(self.delta) > MAX_MEGABYTES:
            raise InvalidArgument(
                f"'megabytes' must be a change of 1 to {MAX_MEGABYTES} either way, not {self.delta}",
                argument="megabytes",
            )
        return ResizedStore.of(
            ledger.resize_store_by(BUSINESS, store.store_name, self.delta, at_most=MAX_MEGABYTES)
        )


@procedure(NAMESPACE, "RemoveExchangeResources", requires=Role.DOMAIN_ADMIN)
class RemoveExchangeResources:
    """Unregister a store that no organization or mailbox holds."""

    store_name: Annotated[str, Xml("mailStoreName", "the store to unregister")]
    store_type: Annotated[
        str | None, Xml("storeType", "mailStore (default), consumerMailStore or publicStore")
    ] = None

    def run(self, ctx: Ctx) -> None:
        ctx.providers.resources.remove_store(_kind(self.store_type), self.store_name)


PROCEDURES = (AddExchangeResources, GetExchangeResources, ModifyResources, RemoveExchangeResources)
EX_ONLY = (ReallocateBusinessMailstoreResource,)  # documented under the Ex name only
