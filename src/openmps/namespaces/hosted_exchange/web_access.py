"""EnsureExchangeVirtualDirectories (reference §2.1): an organization's web virtual directory on
every Exchange server, recorded in the directory (hosting/virtual_directories.py says how)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidOperation
from openmps.hosting import exchange
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.hosting.virtual_directories import ensure_virtual_directories, servers
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@dataclass(frozen=True)
class VirtualDirectory:
    """An organization's virtual directory on one server."""

    XML_ELEMENT: ClassVar[str] = "virtualDirectory"
    server: Annotated[str, Xml("@serverName")]
    url_path: Annotated[str, Xml("@path", "its URL path, /exchange/<primary domain>")]
    entry: Annotated[DN, Xml("@entry", "the directory entry recording it")]


@dataclass(frozen=True)
class VirtualDirectories:
    """An organization's virtual directories, one per Exchange server."""

    directories: Annotated[tuple[VirtualDirectory, ...], Xml("virtualDirectories")]


@procedure(
    NAMESPACE,
    "EnsureExchangeVirtualDirectories",
    requires=Role.ORG_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
)
class EnsureExchangeVirtualDirectories:
    """Record a business organization's web virtual directory (``/exchange/<primary domain>``) on
    every Exchange server the Resource Manager knows; run again after a server is added or the
    primary domain changes (what is right stays, what is stale goes).  OpenMPS runs no Exchange
    server: the entries tell an operator's tooling what to create."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> VirtualDirectories:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        if not servers(providers):
            raise InvalidOperation("no Exchange server is registered; AddExchangeResources first")
        primary, _ = exchange.org_domains(providers, org)
        found = ensure_virtual_directories(providers, org, primary)
        return VirtualDirectories(
            tuple(
                VirtualDirectory(
                    e.first("serviceDNSName") or "", e.first("serviceBindingInformation") or "", e.dn
                )
                for e in found
            )
        )


PROCEDURES: tuple[type, ...] = (EnsureExchangeVirtualDirectories,)
