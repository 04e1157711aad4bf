"""MultiGroup nesting with a small cap: ExpandWin2KCapacity, DistributeGroupMemberships,
GetWin2KCapacityPending; users made later join a sub-group and still hold the User role."""

from __future__ import annotations

import pytest

from openmps.app import group_cap
from openmps.check import check
from openmps.errors import InvalidOperation
from openmps.types import DN
from support import USER_PASSWORD, World, he, ok, org_path, refused, request_xml

MAD = "Managed Active Directory"
ALPINE = org_path("WH", "alpineskihouse")
ALL_USERS = DN.from_path(ALPINE).child("CN", "_Private").child("CN", "AllUsers@alpineskihouse")


def mad(procedure: str, /, **args: object) -> str:
    return request_xml(MAD, procedure, **args)


def pending(world: World) -> dict[str, tuple[str | None, str | None, str | None]]:
    response = ok(world.submit(mad("GetWin2KCapacityPending", organization=ALPINE)))
    return {
        g.get("capacityType", ""): (g.get("directMembers"), g.get("subGroups"), g.get("pending"))
        for g in response.findall("data/groups/group")
    }


def members(world: World, group: DN) -> list[DN]:
    with world.deployment.transaction() as providers:
        return [DN.parse(m) for m in providers.directory.get(group).get("member")]


def test_a_group_over_the_cap_spreads_into_nested_sub_groups(world: World) -> None:
    world.deployment.group_cap = 4
    for i in range(2):  # worker, boss and two more: 4 users, the cap
        upn = f"u{i}@alpineskihouse.com"
        ok(world.submit(he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False)))
    assert pending(world)["UserN"] == ("4", "0", "expand")
    expanded = ok(
        world.submit(mad("ExpandWin2KCapacity", organization=ALPINE, capacityType="UserN", multiplier=2))
    )
    assert expanded.find("data/group").get("pending") == "distribute"
    assert pending(world)["UserN"] == ("4", "2", "distribute")
    ok(world.submit(mad("DistributeGroupMemberships", organization=ALPINE, capacityType="UserN")))
    assert pending(world)["UserN"] == ("0", "2", None)
    subs = members(world, ALL_USERS)
    assert len(subs) == 2 and all(s.rdn_value.startswith("AllUsers@alpineskihouse-") for s in subs)
    assert sum(len(members(world, s)) for s in subs) == 4
    # a new user joins a sub-group, not the real group, and is a User of its organization
    upn = "late@alpineskihouse.com"
    created = ok(
        world.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName=upn,
                isAdmin=False,
                newPassword=USER_PASSWORD,
            )
        )
    )
    joined = DN.from_path(created.find("data/user/memberOfGroup").get("name", ""))
    assert joined in subs and len(members(world, ALL_USERS)) == 2
    caller = world.deployment.authenticator.authenticate(upn, USER_PASSWORD)
    ok(world.deployment.submit(he("GetBusinessUsers", path=ALPINE), caller))
    # the consistency check counts nested members as members
    findings = check(world.deployment)
    assert not [f for f in findings if f.kind == "user-not-in-all-users"], findings


def test_refusals(world: World) -> None:
    expand = {"organization": ALPINE, "capacityType": "UserN"}
    refused(world, mad("ExpandWin2KCapacity", **expand, multiplier=3), "0x80070057", "power of 2")
    refused(world, mad("ExpandWin2KCapacity", **expand, multiplier=4096), "0x80070057", "power of 2")
    wrong = {"organization": ALPINE, "multiplier": 2}
    refused(world, mad("ExpandWin2KCapacity", **wrong, capacityType="Nope"), "0x80070057", "capacityType")
    refused(world, mad("ExpandWin2KCapacity", **wrong, capacityType="ChildOrgN"), "0x80070057", "ChildOrgN")
    refused(world, mad("DistributeGroupMemberships", **expand), "0x80072030", "ExpandWin2KCapacity first")
    upn = "third@alpineskihouse.com"  # with worker and boss: three users for two sub-groups
    ok(world.submit(he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False)))
    ok(world.submit(mad("ExpandWin2KCapacity", **expand, multiplier=2)))
    refused(world, mad("ExpandWin2KCapacity", **expand, multiplier=2), "0x80131509", "never removed")
    world.deployment.group_cap = 1  # one sub-group would get two
    refused(world, mad("DistributeGroupMemberships", **expand), "0x80131509", "larger multiplier")
    world.deployment.group_cap = 5000
    ok(world.submit(mad("DistributeGroupMemberships", **expand)))


def test_a_reseller_spreads_its_organizations(world: World) -> None:
    wh = org_path("WH")
    response = ok(world.submit(mad("GetWin2KCapacityPending", organization=wh)))
    kinds = {g.get("capacityType") for g in response.findall("data/groups/group")}
    assert kinds == {"UserN", "ChildOrgN"}
    ok(world.submit(mad("ExpandWin2KCapacity", organization=wh, capacityType="ChildOrgN", multiplier=2)))
    ok(world.submit(mad("DistributeGroupMemberships", organization=wh, capacityType="ChildOrgN")))
    after = ok(world.submit(mad("GetWin2KCapacityPending", organization=wh)))
    child = next(g for g in after.findall("data/groups/group") if g.get("capacityType") == "ChildOrgN")
    assert (child.get("directMembers"), child.get("subGroups"), child.get("pending")) == ("0", "2", None)


def test_the_cap_is_an_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENMPS_GROUP_MEMBER_CAP", raising=False)
    assert group_cap() == 5000
    monkeypatch.setenv("OPENMPS_GROUP_MEMBER_CAP", "4")
    assert group_cap() == 4
    for wrong in ("0", "-3", "1e3", "many"):
        monkeypatch.setenv("OPENMPS_GROUP_MEMBER_CAP", wrong)
        with pytest.raises(InvalidOperation, match="OPENMPS_GROUP_MEMBER_CAP"):
            group_cap()
