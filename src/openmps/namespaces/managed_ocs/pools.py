"""OCS pools (reference §4.1): shared pools users are homed on; Domain Admins only, idempotent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from lxml import etree

from openmps.delegation.session import Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import NotEmpty, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.namespaces.managed_ocs.common import (
    AVAILABLE,
    HOME_POOL,
    NAMESPACE,
    POOL_STATE,
    UNAVAILABLE,
    fqdn,
    pools_container,
)
from openmps.types import DN

Ctx = ProcedureContext[Providers]
PoolFqdn = Annotated[str, Xml("poolFQDN", "the pool's fully qualified domain name")]
SERVER_ADMINS = "RTCUniversalServerAdmins"


def ensure_containers(providers: Providers) -> DN:
    container = pools_container(providers.layout)
    providers.directory.ensure_containers(container, below=providers.layout.domain)
    return container


def pool_dn(providers: Providers, name: str) -> DN:
    return pools_container(providers.layout).child("CN", fqdn(name, "poolFQDN"))


def homed_users(providers: Providers, pool: DN, limit: int | None = None) -> int:
    return len(
        providers.directory.search(
            providers.layout.hosting, Scope.SUBTREE, filters.eq(HOME_POOL, str(pool)), limit=limit
        )
    )


@procedure(NAMESPACE, "Initialize", requires=Role.DOMAIN_ADMIN)
class Initialize:
    """Prepare the directory for OCS hosting: the pools container and the RTC server admins group
    (the engine's own account acts for it).  Running it again changes nothing."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        ensure_containers(providers)
        group = providers.layout.users.child("CN", SERVER_ADMINS)
        if not providers.directory.exists(group):
            providers.directory.add(
                group,
                {
                    "objectClass": ["top", "group"],
                    "cn": [SERVER_ADMINS],
                    "sAMAccountName": [SERVER_ADMINS],
                    "groupType": ["-2147483640"],  # universal security group
                },
            )
        return ()


@procedure(NAMESPACE, "AddSharedPool", requires=Role.DOMAIN_ADMIN)
class AddSharedPool:
    """Register a shared pool, or make a removed one available again."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        ensure_containers(providers)
        dn = pool_dn(providers, self.pool)
        if providers.directory.exists(dn):
            providers.directory.modify(dn, [Change.replace(POOL_STATE, AVAILABLE)])
        else:
            attrs = {
                "objectClass": ["top", "msRTCSIP-Pool"],
                "cn": [dn.rdn_value],
                "dNSHostName": [dn.rdn_value],
            }
            providers.directory.add(dn, {**attrs, POOL_STATE: [AVAILABLE]})
        return ()


@procedure(NAMESPACE, "RemoveSharedPool", requires=Role.DOMAIN_ADMIN)
class RemoveSharedPool:
    """Take a pool out of service: no new user is homed on it; its users stay."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        dn = pool_dn(ctx.providers, self.pool)
        if not ctx.providers.directory.exists(dn):
            raise NotFound(f"no pool '{self.pool}' is registered", pool=self.pool)
        ctx.providers.directory.modify(dn, [Change.replace(POOL_STATE, UNAVAILABLE)])
        return ()


@procedure(NAMESPACE, "DeleteSharedPool", requires=Role.DOMAIN_ADMIN)
class DeleteSharedPool:
    """Unregister a pool; one that is not registered is fine, one with users homed on it is not."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        dn = pool_dn(providers, self.pool)
        if not providers.directory.exists(dn):
            return ()
        if homed_users(providers, dn, limit=1):
            raise NotEmpty(
                f"users are still homed on pool '{dn.rdn_value}'; move them first", pool=dn.rdn_value
            )
        providers.directory.delete(dn)
        return ()


@procedure(NAMESPACE, "GetPools", requires=Role.DOMAIN_ADMIN, kind="read")
class GetPools:
    """The registered pools, their state and how many users each homes."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Iterable[etree._Element]:
        providers = ctx.providers
        element = etree.Element("pools")
        container = pools_container(providers.layout)
        if providers.directory.exists(container):
            for entry in providers.directory.search(
                container, Scope.ONELEVEL, filters.eq("objectClass", "msRTCSIP-Pool")
            ):
                item = etree.SubElement(element, "poolFQDN", status=entry.first(POOL_STATE) or AVAILABLE)
                item.set("users", str(homed_users(providers, entry.dn)))
                item.text = entry.dn.rdn_value
        return [element]


PROCEDURES = (Initialize, AddSharedPool, RemoveSharedPool, DeleteSharedPool, GetPools)
