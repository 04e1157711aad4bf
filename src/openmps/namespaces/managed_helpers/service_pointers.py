"""Managed Helpers CreateServicePointer / DeleteServicePointer (reference §4.1): a service pointer
(``serviceConnectionPoint``) naming a DNS name for a service, in a container of an organization's
``_Private`` (Managed OCS keeps SIP domains so, in ``SIPDomains``).

A name is pointed to once in the whole deployment, and only by the organization that may hold it
(``free_domain``: the rule every claim of a name follows), since the domain checks read every
service pointer as a claim of its name.  ``SIPDomains`` is Managed OCS's own: its procedures check
what a SIP domain needs (a user still using it) and are the way to change it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.domains import SIP_DOMAIN_CLASS, sip_domain_entries
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import ConstraintViolation, InvalidArgument, InvalidOperation, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.domain_claims import free_domain
from openmps.hosting.organizations import organization_at
from openmps.types import DN, shown

NAMESPACE = "Managed Helpers"
Ctx = ProcedureContext[Providers]
# containers another namespace keeps: its procedures hold the rules of what is in them
OWNED = {"sipdomains": "Managed Office Communications Server's CreateSipDomain and DeleteSipDomain"}
_SERVICE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,63}")


@dataclass(frozen=True)
class ServicePointer:
    """A service pointer of an organization."""

    XML_ELEMENT: ClassVar[str] = "servicePointer"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name", "the DNS name it points to")]
    service_class: Annotated[str, Xml("@serviceClassName", "the service")]


class _PointerArgs:
    organization: Annotated[DN, Xml("organization", "LDAP path of the organization")]
    service_type: Annotated[str, Xml("serviceType", "the container in its _Private, e.g. Services")]
    name: Annotated[str, Xml("name", "the DNS name the pointer names")]
    preferred_dc: PreferredDC = None

    def place(self, providers: Providers) -> tuple[Org, DN]:
        """The organization and the pointer's DN; its container checked."""
        if not _SERVICE_TYPE.fullmatch(self.service_type):
            raise InvalidArgument(
                f"'serviceType' must be a letter then up to 63 letters, digits, spaces, _ or -, "
                f"not {shown(self.service_type)}",
                argument="serviceType",
            )
        owner = OWNED.get(self.service_type.casefold())
        if owner is not None:
            raise InvalidOperation(f"'{self.service_type}' is kept by {owner}", argument="serviceType")
        org = organization_at(providers, self.organization)
        container = org.names.private.child("CN", self.service_type)
        return org, container


@procedure(NAMESPACE, "CreateServicePointer", requires=Role.DOMAIN_ADMIN)
class CreateServicePointer(_PointerArgs):
    """Point a service to a DNS name for an organization; refused if any pointer names it already,
    or if another organization holds the name (or it is the provider's own)."""

    service_class: Annotated[str | None, Xml("serviceClassName", "the service (default: serviceType)")] = None

    def run(self, ctx: Ctx) -> ServicePointer:
        providers = ctx.providers
        org, container = self.place(providers)
        name = free_domain(providers, self.name, owner=org.entry.guid)
        if sip_domain_entries(providers, name):
            raise ConstraintViolation(f"a service pointer names '{name}' already", domain=name)
        providers.directory.ensure_containers(container, below=org.dn)
        dn = container.child("CN", name)
        service = self.service_class or self.service_type
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "leaf", SIP_DOMAIN_CLASS],
                "cn": [name],
                "serviceClassName": [service],
                "serviceDNSName": [name],
            },
        )
        return ServicePointer(dn, name, service)


@procedure(NAMESPACE, "DeleteServicePointer", requires=Role.DOMAIN_ADMIN)
class DeleteServicePointer(_PointerArgs):
    """Remove an organization's service pointer."""

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        _, container = self.place(providers)
        dn = container.child("CN", self.name.strip().lower().rstrip("."))
        if not providers.directory.exists(dn):
            raise NotFound(f"no service pointer {shown(self.name)} in {container.ldap_path}", dn=str(dn))
        providers.directory.delete(dn)


PROCEDURES: tuple[type, ...] = (CreateServicePointer, DeleteServicePointer)
