"""GetPolicy: what a policy gives an object made in a container, as data (reference §5.3).

MPS keeps its policies as ``procedureData/policies/policy[@policyName]/<objectType>`` and expands
names and trustee placeholders for the object at hand.  OpenMPS answers the same things (the DACL
to apply, the groups and containers to create, the groups the object joins) from the one place
that builds them, ``delegation/organizations.py``: the organization DACL is computed with
placeholder SIDs and each placeholder is answered as the group it stands for, so the policy
answered and the organizations built cannot differ (a test holds them equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgNames, OrgType
from openmps.delegation.organizations import organization_dacl
from openmps.delegation.session import Org
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.attributes import check_name
from openmps.hosting.organizations import holds_directly, organization_at
from openmps.hosting.render import AceInfo, MemberOf, ace_info
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN, shown

ORG_POLICIES = {"hosting": OrgType.HOSTING, "reseller": OrgType.RESELLER, "customer": OrgType.CUSTOMER}
DEFAULT = "default"  # departments: OUs inside an organization, which inherit everything
OBJECT_TYPES = ("organizationalUnit", "user")
# placeholder SIDs for the groups an organization's DACL names, answered as those groups' paths
_ALL_USERS, _ADMINS, _CSR, _PARENT_CSR = (f"S-1-5-21-0-0-0-{n}" for n in (1001, 1002, 1003, 1004))


@dataclass(frozen=True)
class PolicyGroup:
    """A group the policy creates, and the groups it joins."""

    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    member_of: Annotated[tuple[MemberOf, ...], Xml(".", item="memberOfGroup")] = ()


@dataclass(frozen=True)
class PolicyContainer:
    """A child container the policy creates."""

    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]


@dataclass(frozen=True)
class Policy:
    """What a policy gives one object: its DACL, the containers and groups made with it, and the
    groups it joins (an empty list: nothing of that kind)."""

    XML_ELEMENT: ClassVar[str] = "policy"
    name: Annotated[str, Xml("@policyName")]
    object_type: Annotated[str, Xml("@objectType")]
    path: Annotated[DN, Xml("@path", "LDAP path of the object")]
    dacl: Annotated[tuple[AceInfo, ...], Xml("dacl", item="ace")]
    containers: Annotated[tuple[PolicyContainer, ...], Xml("containers", item="container")]
    groups: Annotated[tuple[PolicyGroup, ...], Xml("groups", item="group")]
    member_of: Annotated[tuple[MemberOf, ...], Xml("memberOf", item="memberOfGroup")]


@procedure(NAMESPACE, "GetPolicy", requires=Role.USER, scope="container_path", kind="read")
class GetPolicy:
    """What a policy (default, hosting, reseller, customer) gives an organizationalUnit or a user
    made in a container: its DACL, the containers and groups made with it, the groups it joins."""

    policy_name: Annotated[str, Xml("policyName", "default, hosting, reseller or customer")]
    container_path: Annotated[DN, Xml("containerPath", "LDAP path of the container the object is made in")]
    object_name: Annotated[str, Xml("objectName", "the object's name (an OU's ou, a user's cn)")]
    object_type: Annotated[str, Xml("objectType", "organizationalUnit or user")]
    object_path: Annotated[DN | None, Xml("objectPath", "default: <containerPath> with <objectName>")] = None
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> Policy:
        name = self.policy_name.lower()
        if name not in (*ORG_POLICIES, DEFAULT):
            raise InvalidArgument(
                f"'policyName': {shown(self.policy_name)} is not default, hosting, reseller or customer",
                argument="policyName",
            )
        kind = next((t for t in OBJECT_TYPES if t.lower() == self.object_type.lower()), None)
        if kind is None:
            raise InvalidArgument(
                f"'objectType': {shown(self.object_type)} is not organizationalUnit or user",
                argument="objectType",
            )
        rdn = "OU" if kind == "organizationalUnit" else "CN"
        path = self.object_path or self.container_path.child(rdn, check_name(self.object_name, "objectName"))
        if path.parent != self.container_path:
            raise InvalidArgument("'objectPath' is not in 'containerPath'", argument="objectPath")
        parent = organization_at(ctx.providers, self.container_path) if name != DEFAULT else None
        if kind == "user" or parent is None:
            return self._member(ctx, name, kind, path)
        return _organization(name, kind, path, parent)

    def _member(self, ctx: Ctx, name: str, kind: str, path: DN) -> Policy:
        """A user (or, for ``default``, a department) joins its organization's AllUsers@ when it is
        a business organization's, as CreateUser makes it; nothing else is given to it."""
        chain = ctx.providers.org_chain(self.container_path)
        if not chain or not holds_directly(ctx.providers, chain[0], self.container_path):
            raise InvalidArgument(
                f"{self.container_path.ldap_path} is no organization nor one of its departments",
                dn=str(self.container_path),
            )
        joins = (MemberOf(chain[0].names.all_users),) if kind == "user" else ()
        return Policy(name, kind, path, (), (), (), joins)


def _organization(name: str, kind: str, path: DN, parent: Org) -> Policy:
    """An organization of type ``name`` below ``parent``: organization_dacl's DACL, the builder's
    containers and groups."""
    org_type = ORG_POLICIES[name]
    names, up = OrgNames(path), parent.names
    below = parent.kind is not OrgType.HOSTING
    dacl = organization_dacl(org_type, _ALL_USERS, _ADMINS, _CSR, _PARENT_CSR)
    trustees = {
        _ALL_USERS: names.all_users,
        _ADMINS: names.admins,
        _CSR: names.csr_admins,
        _PARENT_CSR: up.csr_admins,
    }

    def group(at: DN, outer: DN | None) -> PolicyGroup:
        return PolicyGroup(at, at.rdn_value, (MemberOf(outer),) if outer is not None and below else ())

    groups = [
        group(names.admins, up.all_customer_admins),
        group(names.csr_admins, up.all_customer_csr_admins),
        group(names.all_users, up.all_customers),
    ]
    if org_type is not OrgType.CUSTOMER:
        groups += [
            group(g, None)
            for g in (names.all_customers, names.all_customer_admins, names.all_customer_csr_admins)
        ]
    containers = tuple(
        PolicyContainer(c, c.rdn_value)
        for c in (names.private, names.multi_group, names.user_n, names.all_users_pointer, names.child_org_n)
    )
    aces = tuple(ace_info(ace, trustees) for ace in dacl.aces)
    return Policy(name, kind, path, aces, containers, tuple(groups), ())


PROCEDURES = (GetPolicy,)
