"""Where an object stands in the hosting tree, read from ``otherWellKnownObjects`` (reference §5.3).

GetThisOrganizationRoot answers the organization an object lies in, GetForeignOwnerOrg the one
that owns an organization (its reseller, or Hosting), GetOtherWellKnownObject any one pointer of
an object (``UserCreators``, ``OrgType``, ``MultiGroupPointer`` …).  Each is a read of what the
organization builder wrote; the caller needs the User role where the object is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.session import Org
from openmps.directory import acl, filters, wellknown
from openmps.directory.interface import Scope
from openmps.directory.service import WELL_KNOWN
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, NotFound
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.hosting.render import WellKnownObject
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN, shown


@dataclass(frozen=True)
class OrganizationRef:
    """An organization: its path, name and type."""

    XML_ELEMENT: ClassVar[str] = "organization"
    path: Annotated[DN, Xml("@path", "LDAP path of the organization")]
    name: Annotated[str, Xml("@name")]
    type: Annotated[str, Xml("@type", "hosting, reseller or customer")]

    @classmethod
    def of(cls, org: Org) -> OrganizationRef:
        return cls(org.dn, org.dn.rdn_value, org.kind.value)


@dataclass(frozen=True)
class WellKnownPointer:
    """One of an object's otherWellKnownObjects."""

    XML_ELEMENT: ClassVar[str] = "otherWellKnownObject"
    pointer: Annotated[WellKnownObject, Xml(".")]


def _innermost(ctx: Ctx, path: DN) -> Org:
    chain = ctx.providers.org_chain(path)
    if not chain:  # an object outside the hosting tree (Domain Admins see it)
        if not ctx.providers.directory.exists(path):
            raise NotFound(f"no such object: {path.ldap_path}", dn=str(path))
        raise InvalidArgument(f"{path.ldap_path} is in no organization", dn=str(path))
    return chain[0]


@procedure(NAMESPACE, "GetThisOrganizationRoot", requires=Role.USER, scope="path", kind="read")
class GetThisOrganizationRoot:
    """The organization an object lies in (the object itself when it is one)."""

    path: Annotated[DN, Xml("path", "LDAP path of any object of the hosting tree")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationRef:
        if not ctx.providers.directory.exists(self.path):
            raise NotFound(f"no such object: {self.path.ldap_path}", dn=str(self.path))
        return OrganizationRef.of(_innermost(ctx, self.path))


@procedure(NAMESPACE, "GetForeignOwnerOrg", requires=Role.USER, scope="path", kind="read")
class GetForeignOwnerOrg:
    """The organization that owns an organization: its reseller, or the hosting organization."""

    path: Annotated[DN, Xml("path", "LDAP path of a reseller or business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> OrganizationRef:
        org = organization_at(ctx.providers, self.path)
        owner = ctx.providers.directory.well_known(org.entry, "ForeignOwnerOrg")
        if owner is None:
            raise NotFound(f"{self.path.ldap_path} has no owning organization", dn=str(self.path))
        chain = ctx.providers.org_chain(owner)
        if not chain or chain[0].dn != owner:
            raise NotFound(f"no such object: {owner.ldap_path}", dn=str(owner))
        return OrganizationRef.of(chain[0])


@procedure(NAMESPACE, "GetOtherWellKnownObject", requires=Role.USER, scope="path", kind="read")
class GetOtherWellKnownObject:
    """One well-known object of an organization or one of its containers, by its name."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization (or its _Private container)")]
    well_known_name: Annotated[
        str, Xml("wkName", "ThisOrganizationRoot, ForeignOwnerOrg, UserCreators, ChildOrgCreators, OrgType …")
    ]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> WellKnownPointer:
        entry = ctx.providers.directory.find_many([self.path], attributes=(WELL_KNOWN,)).get(self.path)
        if entry is None:
            raise NotFound(f"no such object: {self.path.ldap_path}", dn=str(self.path))
        target = wellknown.lookup(entry.get(WELL_KNOWN), self.well_known_name)
        if target is None:
            raise NotFound(
                f"{self.path.ldap_path} has no well-known object {shown(self.well_known_name)}",
                wkName=self.well_known_name,
            )
        return WellKnownPointer(WellKnownObject(self.well_known_name, target))


@dataclass(frozen=True)
class UIRole:
    """A UI role the caller has: a group of ``WatUIPermissions`` whose DACL it may read."""

    XML_ELEMENT: ClassVar[str] = "role"
    name: Annotated[str, Xml("@name", "0000, 0100, 0500, 1000, 2000, 5000, 6000 …")]
    path: Annotated[DN, Xml("@path", "LDAP path of the group")]


@dataclass(frozen=True)
class UIRoles:
    """The caller's UI roles (none before Managed Helpers::InitializeADForHosting made the groups)."""

    roles: Annotated[tuple[UIRole, ...], Xml("roles", item="role")]


@procedure(NAMESPACE, "GetCallerUIRoles", requires=Role.AUTHENTICATED, kind="read")
class GetCallerUIRoles:
    """The UI roles of the caller: the groups under Hosting's ``_Private/WatUIPermissions`` whose
    DACL it may read (only their admins and members can), by name."""

    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> UIRoles:
        directory = ctx.providers.directory
        container = ctx.providers.layout.ui_permissions
        if not directory.exists(container):
            return UIRoles(())
        groups = directory.search(container, Scope.ONELEVEL, filters.eq("objectClass", "group"))
        token = ctx.caller.token
        held = [
            UIRole(g.dn.rdn_value, g.dn)
            for g in groups
            if ctx.caller.is_service or directory.check_access(token, g.dn, acl.Right.READ_CONTROL)
        ]
        return UIRoles(tuple(sorted(held, key=lambda r: r.name)))


PROCEDURES = (GetThisOrganizationRoot, GetForeignOwnerOrg, GetOtherWellKnownObject, GetCallerUIRoles)
ALIASED = (GetCallerUIRoles,)  # answered under Hosted Active Directory too
