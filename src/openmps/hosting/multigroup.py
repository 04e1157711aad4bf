"""MultiGroup nesting (reference §5.3): a role group too large for one AD group spreads its members
over sub-groups nested in it.

Windows 2000 capped a group at about 5,000 members, and a directory server may cap it too; the
cap is an operator's setting (``Providers.group_cap``, ``OPENMPS_GROUP_MEMBER_CAP``).  An
organization's ``_Private/MultiGroup`` holds, per spreadable group, a pointer container
(``UserN/AllUsers@<Org>`` for the organization's users, ``ChildOrgN/AllCustomers@<Reseller>`` for
its organizations) into which ExpandWin2KCapacity puts ``multiplier`` sub-groups, each a member of
the real group, so membership through them is membership of it (tokens are transitive).  The
real group is then *pending* until DistributeGroupMemberships moves its direct members into the
sub-groups; a member added later goes straight to one (:func:`join`).  Sub-groups are never
removed (MPS does not shrink either).

Which sub-group a member goes to is a hash of its DN, so nothing is counted on the way in.  The
organization records an expanded group with an ``otherWellKnownObjects`` pointer to its
container, read with the organization itself: joining a group that was never expanded costs
nothing more than before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from openmps.delegation.layout import OrgType
from openmps.delegation.organizations import GLOBAL_SECURITY_GROUP, ensure_pointers
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Scope
from openmps.errors import InvalidArgument, InvalidOperation, NotFound
from openmps.types import DN

USER_N, CHILD_ORG_N = "UserN", "ChildOrgN"
MULTIPLIERS = tuple(2**n for n in range(1, 12))  # 2 … 2048


@dataclass(frozen=True)
class Spread:
    """One spreadable group of an organization: the real group and its pointer container."""

    capacity_type: str
    group: DN
    container: DN
    well_known: str  # the organization's pointer naming the container once it is expanded

    def sub_group(self, index: int) -> DN:
        return self.container.child("CN", f"{self.group.rdn_value}-{index:04d}")


def spread_of(org: Org, capacity_type: str) -> Spread:
    """The group ``capacity_type`` (UserN or ChildOrgN) spreads in ``org``."""
    names = org.names
    if capacity_type.casefold() == USER_N.casefold():
        return Spread(USER_N, names.all_users, names.all_users_pointer, "UserNGroups")
    if capacity_type.casefold() == CHILD_ORG_N.casefold():
        if org.kind is OrgType.CUSTOMER:
            raise InvalidArgument(
                f"'capacityType': ChildOrgN needs a hosting or reseller organization, not {org.dn.ldap_path}",
                argument="capacityType",
            )
        return Spread(
            CHILD_ORG_N,
            names.all_customers,
            names.child_org_n.child("CN", names.all_customers.rdn_value),
            "ChildOrgNGroups",
        )
    raise InvalidArgument(
        f"'capacityType' must be UserN or ChildOrgN, not '{capacity_type[:40]}'", argument="capacityType"
    )


def sub_groups(providers: Providers, spread: Spread) -> list[DN]:
    """The sub-groups made so far, in order."""
    if not providers.directory.exists(spread.container):
        return []
    found = providers.directory.search(spread.container, Scope.ONELEVEL, filters.eq("objectClass", "group"))
    return sorted((e.dn for e in found), key=lambda dn: dn.rdn_value)


def _pick(member: DN, groups: list[DN]) -> DN:
    digest = hashlib.blake2b(member.norm.encode(), digest_size=8).digest()
    return groups[int.from_bytes(digest, "big") % len(groups)]


def join(providers: Providers, org: Org, member: DN) -> DN:
    """Make ``member`` a member of ``org``'s AllUsers@ group, through one of its sub-groups once it
    is expanded; the group it joined."""
    spread = spread_of(org, USER_N)
    if providers.directory.well_known(org.entry, spread.well_known) is None:
        target = spread.group
    else:
        target = _pick(member, sub_groups(providers, spread))
    providers.directory.modify(target, [Change.add("member", str(member))])
    return target


def expand(providers: Providers, org: Org, spread: Spread, multiplier: int) -> list[DN]:
    """Give ``spread`` ``multiplier`` sub-groups (never fewer than it has); the new ones."""
    if multiplier not in MULTIPLIERS:
        raise InvalidArgument(
            f"'multiplier' must be a power of 2 from 2 to 2048, not {multiplier}", argument="multiplier"
        )
    have = sub_groups(providers, spread)
    if multiplier <= len(have):
        raise InvalidOperation(
            f"{spread.group.ldap_path} has {len(have)} sub-groups already; they are never removed",
            dn=str(spread.group),
        )
    directory = providers.directory
    directory.ensure_containers(spread.container, below=org.names.multi_group)
    made = []
    for index in range(len(have) + 1, multiplier + 1):
        dn = spread.sub_group(index)
        attrs = {"objectClass": ["top", "group"], "cn": [dn.rdn_value], "groupType": [GLOBAL_SECURITY_GROUP]}
        directory.add_account(dn, attrs, dn.rdn_value, builtin=True)  # a role group's part
        directory.modify(spread.group, [Change.add("member", str(dn))])
        made.append(dn)
    ensure_pointers(directory, org.dn, [(spread.well_known, spread.container)])
    providers.forget(org.dn)  # its cached chain has the old pointers
    return made


def direct_members(providers: Providers, spread: Spread) -> list[str]:
    """The real group's members that are not its sub-groups (what distribution moves)."""
    subs = {dn.norm for dn in sub_groups(providers, spread)}
    return [m for m in providers.directory.get(spread.group).get("member") if DN.parse(m).norm not in subs]


def distribute(providers: Providers, spread: Spread, cap: int) -> int:
    """Move the real group's direct members into its sub-groups; how many moved.  Refused, with
    nothing written, when a sub-group would pass the cap."""
    subs = sub_groups(providers, spread)
    if not subs:
        raise NotFound(
            f"{spread.group.ldap_path} has no sub-groups; ExpandWin2KCapacity first", dn=str(spread.group)
        )
    moving = direct_members(providers, spread)
    plan: dict[DN, list[str]] = {dn: [] for dn in subs}
    for member in moving:
        plan[_pick(DN.parse(member), subs)].append(member)
    directory = providers.directory
    sizes = {dn: len(directory.get(dn).get("member")) for dn in subs}
    full = [dn for dn in subs if sizes[dn] + len(plan[dn]) > cap]
    if full:
        raise InvalidOperation(
            f"{full[0].rdn_value} would hold more than {cap} members; ExpandWin2KCapacity with a larger "
            "multiplier first",
            dn=str(spread.group),
        )
    for dn, members in plan.items():
        if members:
            directory.modify(dn, [Change.add("member", *members)])
    if moving:
        directory.modify(spread.group, [Change.delete("member", *moving)])
    return len(moving)
