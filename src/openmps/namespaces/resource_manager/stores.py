"""Registering mail stores, public stores and front-end servers; resizing and unregistering them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument
from openmps.resources.interface import BUSINESS, CONSUMER, KB_PER_MB, PUBLIC, Store
from openmps.resources.requests import (
    FrontEndServer,
    NewMailStore,
    NewPublicStore,
    checked_megabytes,
)

NAMESPACE = "Exchange Resource Manager"
Ctx = ProcedureContext[Providers]
KINDS = {"mailStore": BUSINESS, "consumerMailStore": CONSUMER, "publicStore": PUBLIC}


def store_element(store: Store) -> etree._Element:
    tag = {BUSINESS: "mailStore", CONSUMER: "consumerMailStore", PUBLIC: "publicStore"}[store.kind]
    element = etree.Element(tag)
    for name, value in (
        ("serverName", store.server_name),
        ("publicStoreName" if store.kind == PUBLIC else "mailStoreName", store.store_name),
        ("megabytes", str(store.capacity_kb // KB_PER_MB)),
        ("allocatedMegabytes", str(store.allocated_kb // KB_PER_MB)),
        ("freeMegabytes", str(store.free_kb // KB_PER_MB)),
        ("shared", "1" if store.shared else "0"),
        ("organizations", str(store.organizations)),
    ):
        etree.SubElement(element, name).text = value
    return element


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

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
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
        resources = etree.Element("resources")
        resources.extend(store_element(s) for s in added)
        return [resources]


@procedure(NAMESPACE, "GetExchangeResources", requires=Role.DOMAIN_ADMIN, kind="read")
class GetExchangeResources:
    """Every registered store with its size, what is allocated, what is free, and how many hold it."""

    preferred_dc: Annotated[
        str | None, Xml("preferredDomainController", "accepted for MPS compatibility")
    ] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        ledger = ctx.providers.resources
        resources = etree.Element("resources")
        resources.extend(store_element(s) for s in ledger.stores())
        front_ends = etree.SubElement(resources, "frontEndServers")
        for server in ledger.front_ends():
            etree.SubElement(etree.SubElement(front_ends, "frontEndServer"), "serverName").text = server
        return [resources]


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

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        checked_megabytes(self.size)
        return [
            store_element(
                ctx.providers.resources.resize_store(_kind(self.store_type), self.store_name, self.size)
            )
        ]


@procedure(NAMESPACE, "RemoveExchangeResources", requires=Role.DOMAIN_ADMIN)
class RemoveExchangeResources:
    """Unregister a store that no organization or mailbox holds."""

    store_name: Annotated[str, Xml("mailStoreName", "the store to unregister")]
    store_type: Annotated[
        str | None, Xml("storeType", "mailStore (default), consumerMailStore or publicStore")
    ] = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        ctx.providers.resources.remove_store(_kind(self.store_type), self.store_name)
        return ()


PROCEDURES = (AddExchangeResources, GetExchangeResources, ModifyResources, RemoveExchangeResources)
