"""Address lists of a business organization (reference §2.9): ``<Org> GAL``, ``<Org> AL``, ``<Org> OAL``.

hosting/address_lists.py makes them (in Exchange's configuration container, readable by the
organization's AllUsers@ and Admins@ groups only, pointed at by its otherWellKnownObjects) and
stamps its mail-enabled users with them; this procedure asks for them outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.engine.context import ProcedureContext
from openmps.engine.declaration import Role, Xml, procedure
from openmps.hosting.address_lists import create_address_lists, lists_of
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.types import DN

Ctx = ProcedureContext[Providers]


@dataclass(frozen=True)
class AddressList:
    """One of an organization's address lists, by its well-known name."""

    well_known_name: Annotated[
        str, Xml("@wkName", "OrganizationGAL, OrganizationAddressList or OrganizationOAB")
    ]
    name: Annotated[str, Xml("@name")]
    path: Annotated[DN, Xml("@path", "LDAP path of the list")]


@dataclass(frozen=True)
class AddressLists:
    """An organization's GAL, address list and offline address list."""

    lists: Annotated[tuple[AddressList, ...], Xml("addressLists", item="addressList")]

    @classmethod
    def of(cls, org: Org) -> AddressLists:
        return cls(tuple(AddressList(name, dn.rdn_value, dn) for name, dn in lists_of(org).items()))


@procedure(
    NAMESPACE,
    "CreateOrganizationAddressLists",
    requires=Role.ORG_CREATOR,
    scope="path",
    right="DS_WRITE_PROP",
)
class CreateOrganizationAddressLists:
    """Create an organization's GAL, address list and offline address list; stamp its mail users."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> AddressLists:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        return AddressLists.of(create_address_lists(ctx.providers, org))


PROCEDURES = (CreateOrganizationAddressLists,)
