"""Managed Active Directory::GetPolicy: the policy answered is what the organization builder makes."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.types import DN
from support import HOSTING, World, he, ok, org_path, refused, request_xml

MAD = "Managed Active Directory"
WH = org_path("WH")
ALPINE = org_path("WH", "alpineskihouse")


def policy(**args: object) -> str:
    return request_xml(MAD, "GetPolicy", **args)


def aces(element: etree._Element) -> list[tuple[str, ...]]:
    return sorted(
        (
            ",".join(p.text or "" for p in ace.findall("permission")),
            ace.findtext("inheritance") or "",
            ace.findtext("inheritedObjectTypeName") or "",
            DN.from_path(ace.findtext("trustee") or "").norm,
        )
        for ace in element.findall("dacl/ace")
    )


def groups(element: etree._Element) -> dict[str, list[str]]:
    found = {}
    for g in element.iter("group"):
        found[DN.from_path(g.get("path", "")).norm] = sorted(
            DN.from_path(m.get("name", "")).norm for m in g.findall("memberOfGroup")
        )
    return found


@pytest.mark.parametrize(
    ("policy_name", "container", "create"),
    [
        (
            "customer",
            WH,
            he("CreateBusinessOrganization", container=WH, name="newco", SMTPDomain="newco.com"),
        ),
        ("reseller", HOSTING, he("CreateResellerOrganization", container=HOSTING, name="newco")),
    ],
)
def test_the_policy_is_what_the_builder_makes(
    world: World, policy_name: str, container: str, create: str
) -> None:
    answered = ok(
        world.submit(
            policy(
                policyName=policy_name,
                containerPath=container,
                objectName="newco",
                objectType="organizationalUnit",
            )
        )
    ).find("data/policy")
    assert answered is not None
    built = ok(world.submit(create)).find("data/org")
    assert built is not None
    assert aces(answered) == aces(built) and aces(answered)
    made = groups(built)
    assert groups(answered.find("groups")) == made
    containers = {DN.from_path(c.get("path", "")).norm for c in answered.findall("containers/container")}
    built_containers = {DN.from_path(o.get("path", "")).norm for o in built.iter("org")} - {
        DN.from_path(built.get("path", "")).norm
    }
    assert containers == built_containers


def test_a_user_joins_all_users_of_its_organization(world: World) -> None:
    answered = ok(
        world.submit(
            policy(
                policyName="customer",
                containerPath=ALPINE,
                objectName="x@alpineskihouse.com",
                objectType="user",
            ),
            "user",
        )
    ).find("data/policy")
    assert answered is not None
    joins = [DN.from_path(m.get("name", "")) for m in answered.findall("memberOf/memberOfGroup")]
    assert joins == [DN.from_path(ALPINE).child("CN", "_Private").child("CN", "AllUsers@alpineskihouse")]
    assert answered.findall("dacl/ace") == [] and answered.findall("groups/group") == []


@pytest.mark.parametrize(
    ("arguments", "code", "fragment"),
    [
        ({"policyName": "evil"}, "0x80070057", "'policyName'"),
        ({"objectType": "computer"}, "0x80070057", "'objectType'"),
        ({"objectName": "x" * 65}, "0x80070057", "objectName"),
        ({"objectName": "a\u202eb"}, "0x80070057", "objectName"),
        ({"containerPath": org_path("WH", "nowhere")}, "0x80072030", "nowhere"),
        ({"objectPath": "LDAP://OU=x,OU=R2,OU=Hosting,DC=fabrikam,DC=com"}, "0x80070057", "'objectPath'"),
    ],
)
def test_bad_input_is_refused(world: World, arguments: dict[str, object], code: str, fragment: str) -> None:
    given = {
        "policyName": "customer",
        "containerPath": WH,
        "objectName": "x",
        "objectType": "organizationalUnit",
    }
    refused(world, policy(**{**given, **arguments}), code, fragment)
