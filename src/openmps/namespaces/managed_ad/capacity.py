"""Group-size capacity (reference §5.3): ExpandWin2KCapacity, DistributeGroupMemberships,
GetWin2KCapacityPending, over the MultiGroup nesting of ``hosting/multigroup.py``.

An operator expands a group nearing the cap (the setting ``OPENMPS_GROUP_MEMBER_CAP``, 5,000 by
default as Windows 2000's limit), then distributes each pending group once; the pending list
names the groups to act on and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org
from openmps.engine.declaration import Role, Xml, procedure
from openmps.hosting import multigroup
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.organizations import organization_at
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN

CapacityType = Annotated[
    str, Xml("capacityType", "UserN (the organization's users) or ChildOrgN (its organizations)")
]
WARN = 0.8  # a group is reported once it holds this share of the cap (MPS: run at ~4,000 of 5,000)


@dataclass(frozen=True)
class GroupCapacity:
    """A spreadable group: its direct members, its sub-groups, and what it needs, if anything."""

    XML_ELEMENT: ClassVar[str] = "group"
    path: Annotated[DN, Xml("@path")]
    name: Annotated[str, Xml("@name")]
    capacity_type: Annotated[str, Xml("@capacityType")]
    direct_members: Annotated[int, Xml("@directMembers", "members not in a sub-group")]
    sub_groups: Annotated[int, Xml("@subGroups")]
    pending: Annotated[
        str | None, Xml("@pending", "distribute: DistributeGroupMemberships; expand: ExpandWin2KCapacity")
    ] = None


@dataclass(frozen=True)
class CapacityPending:
    """The groups of an organization that need ExpandWin2KCapacity or DistributeGroupMemberships."""

    cap: Annotated[int, Xml("cap", "members one group may hold (OPENMPS_GROUP_MEMBER_CAP)")]
    groups: Annotated[tuple[GroupCapacity, ...], Xml("groups", item="group")]


def _capacity(ctx: Ctx, spread: multigroup.Spread) -> GroupCapacity:
    providers = ctx.providers
    subs = multigroup.sub_groups(providers, spread)
    direct = len(multigroup.direct_members(providers, spread))
    pending = None
    if subs and direct:
        pending = "distribute"
    elif direct >= providers.group_cap * WARN:
        pending = "expand"
    group = spread.group
    return GroupCapacity(group, group.rdn_value, spread.capacity_type, direct, len(subs), pending)


def _spreads(org: Org) -> list[multigroup.Spread]:
    kinds = [multigroup.USER_N] + ([multigroup.CHILD_ORG_N] if org.kind is not OrgType.CUSTOMER else [])
    return [multigroup.spread_of(org, kind) for kind in kinds]


@procedure(
    NAMESPACE, "ExpandWin2KCapacity", requires=Role.ORG_CREATOR, scope="organization", right="DS_WRITE_PROP"
)
class ExpandWin2KCapacity:
    """Nest ``multiplier`` sub-groups under an organization's AllUsers@ (UserN) or AllCustomers@
    (ChildOrgN) group; the group is then pending until DistributeGroupMemberships."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the organization")]
    capacity_type: CapacityType
    multiplier: Annotated[
        int, Xml("multiplier", "sub-groups in all: a power of 2 from 2 to 2048, never fewer")
    ]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> GroupCapacity:
        org = organization_at(ctx.providers, self.organization)
        spread = multigroup.spread_of(org, self.capacity_type)
        multigroup.expand(ctx.providers, org, spread, self.multiplier)
        return _capacity(ctx, spread)


@procedure(
    NAMESPACE,
    "DistributeGroupMemberships",
    requires=Role.ORG_CREATOR,
    scope="organization",
    right="DS_WRITE_PROP",
)
class DistributeGroupMemberships:
    """Move an expanded group's direct members into its sub-groups (refused if one would pass the cap)."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the organization")]
    capacity_type: CapacityType
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> GroupCapacity:
        org = organization_at(ctx.providers, self.organization)
        spread = multigroup.spread_of(org, self.capacity_type)
        multigroup.distribute(ctx.providers, spread, ctx.providers.group_cap)
        return _capacity(ctx, spread)


@procedure(NAMESPACE, "GetWin2KCapacityPending", requires=Role.ORG_CREATOR, scope="organization", kind="read")
class GetWin2KCapacityPending:
    """An organization's spreadable groups with what each needs: expand (near the cap) or
    distribute (expanded, with direct members left)."""

    organization: Annotated[DN, Xml("organization", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> CapacityPending:
        org = organization_at(ctx.providers, self.organization)
        return CapacityPending(ctx.providers.group_cap, tuple(_capacity(ctx, s) for s in _spreads(org)))


PROCEDURES = (ExpandWin2KCapacity, DistributeGroupMemberships, GetWin2KCapacityPending)
