"""OCS pools (reference §4.1): shared pools users are homed on; Domain Admins only, idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

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


@dataclass(frozen=True)
class Pool:
    """A registered pool: its name, its state and how many users it homes."""

    name: Annotated[str, Xml(".", "its fully qualified domain name")]
    status: Annotated[str, Xml("@status", "Available or Unavailable")]
    users: Annotated[int, Xml("@users", "how many users it homes")]


@dataclass(frozen=True)
class Pools:
    """The registered pools (GetPools)."""

    pools: Annotated[tuple[Pool, ...], Xml("pools", item="poolFQDN")]


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

    def run(self, ctx: Ctx) -> None:
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


@procedure(NAMESPACE, "AddSharedPool", requires=Role.DOMAIN_ADMIN)
class AddSharedPool:
    """Register a shared pool, or make a removed one available again."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
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


@procedure(NAMESPACE, "RemoveSharedPool", requires=Role.DOMAIN_ADMIN)
class RemoveSharedPool:
    """Take a pool out of service: no new user is homed on it; its users stay."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        dn = pool_dn(ctx.providers, self.pool)
        if not ctx.providers.directory.exists(dn):
            raise NotFound(f"no pool '{self.pool}' is registered", pool=self.pool)
        ctx.providers.directory.modify(dn, [Change.replace(POOL_STATE, UNAVAILABLE)])


@procedure(NAMESPACE, "DeleteSharedPool", requires=Role.DOMAIN_ADMIN)
class DeleteSharedPool:
    """Unregister a pool; one that is not registered is fine, one with users homed on it is not."""

    pool: PoolFqdn
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        dn = pool_dn(providers, self.pool)
        if not providers.directory.exists(dn):
            return
        if homed_users(providers, dn, limit=1):
            raise NotEmpty(
                f"users are still homed on pool '{dn.rdn_value}'; move them first", pool=dn.rdn_value
            )
        providers.directory.delete(dn)


@procedure(NAMESPACE, "GetPools", requires=Role.DOMAIN_ADMIN, kind="read")
class GetPools:
    """The registered pools, their state and how many users each homes."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Pools:
        providers = ctx.providers
        container = pools_container(providers.layout)
        if not providers.directory.exists(container):
            return Pools(())
        entries = providers.directory.search(
            container, Scope.ONELEVEL, filters.eq("objectClass", "msRTCSIP-Pool")
        )
        return Pools(
            tuple(
                Pool(
                    name=entry.dn.rdn_value,
                    status=entry.first(POOL_STATE) or AVAILABLE,
                    users=homed_users(providers, entry.dn),
                )
                for entry in entries
            )
        )


PROCEDURES = (Initialize, AddSharedPool, RemoveSharedPool, DeleteSharedPool, GetPools)
