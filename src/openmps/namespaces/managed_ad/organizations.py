"""Organizations as directory objects: CreateOrganization and DeleteOrganization (reference §5.3).

Managed Active Directory makes and removes the identity part only: the OU with its well-known
objects, ``_Private`` and MultiGroup, its role groups and its DACL (``delegation/organizations.py``,
the builder every organization comes from).  Hosted Exchange's organization procedures add and
release what it keeps (domains, plans, storage) and call DeleteOrganization for the rest.
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import build_organization, delete_organization_tree
from openmps.directory import filters
from openmps.directory.interface import Scope
from openmps.engine.declaration import Properties, Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, InvalidOperation, NotEmpty
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.attributes import OU_ATTRIBUTES, check_name, property_attributes
from openmps.hosting.organizations import organization_at
from openmps.hosting.render import OrgInfo, org_info
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN, shown

DELETED = "Deleted"
# policyName → the kind of organization made, and the kinds it may be made in
KINDS = {
    "reseller": (OrgType.RESELLER, (OrgType.HOSTING,)),
    "customer": (OrgType.CUSTOMER, (OrgType.HOSTING, OrgType.RESELLER)),
}


@procedure(
    NAMESPACE, "CreateOrganization", requires=Role.ORG_CREATOR, scope="container", right="DS_CREATE_CHILD"
)
class CreateOrganization:
    """Create an organization's directory part by its policy: a reseller under the hosting
    organization, a customer under it or a reseller (no domain, plan or storage yet)."""

    container: Annotated[DN, Xml("container", "LDAP path of the hosting or reseller OU")]
    name: Annotated[str, Xml("name", "name of the new OU")]
    preferred_dc: PreferredDC = None
    policy_name: Annotated[str, Xml("policyName", "customer (default) or reseller")] = "customer"
    description: Annotated[str | None, Xml("description")] = None
    properties: Annotated[Properties, Xml("properties", "organizationalUnit attributes")] = ()

    def run(self, ctx: Ctx) -> OrgInfo:
        providers = ctx.providers
        found = KINDS.get(self.policy_name.lower())
        if found is None:
            raise InvalidArgument(
                f"'policyName': {shown(self.policy_name)} is not customer or reseller", argument="policyName"
            )
        kind, parents = found
        parent = organization_at(
            providers,
            self.container,
            *parents,
            wanted=" or ".join(p.value for p in parents) + " organization",
        )
        dn = self.container.child("OU", check_name(self.name, "name"))
        attrs = property_attributes(self.properties, OU_ATTRIBUTES, "organizationalUnit")
        if self.description is not None:
            attrs["description"] = [self.description]
        if providers.directory.exists(dn):
            raise AlreadyExists(f"the organization {dn.ldap_path} already exists", dn=str(dn))
        return org_info(build_organization(providers, parent=parent, dn=dn, kind=kind, attributes=attrs))


@procedure(NAMESPACE, "DeleteOrganization", requires=Role.ORG_CREATOR, scope="path", right="DELETE")
class DeleteOrganization:
    """Delete an organization's directory part: refused while it has users (or, a reseller,
    organizations), and while Hosted Exchange still holds storage or a plans record for it."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER, OrgType.RESELLER)
        users = filters.eq("objectClass", "user")
        inside: filters.Filter = users
        if org.kind is OrgType.RESELLER:
            inside = filters.or_(users, filters.eq("objectClass", "organizationalUnit"))
        found = [
            e
            for e in providers.directory.search(self.path, Scope.SUBTREE, inside, limit=2)
            if e.dn != self.path
        ]
        if found:
            raise NotEmpty(
                f"{self.path.ldap_path} still has users or organizations (such as {found[0].dn.ldap_path})",
                dn=str(self.path),
            )
        record = providers.plans.customer(org.entry.guid)
        if providers.resources.slots(org.entry.guid) or (record is not None and record.status != DELETED):
            raise InvalidOperation(
                f"{self.path.ldap_path} is an organization of Hosted Exchange; delete it there",
                dn=str(self.path),
            )
        delete_organization_tree(providers.directory, self.path)
        providers.forget(self.path)


PROCEDURES = (CreateOrganization, DeleteOrganization)
