"""Managed Active Directory objects: CreateUser/DeleteUser, CreateGroup/DeleteGroup,
CreateContact/DeleteContact; and Hosted Exchange's user procedures calling them."""

from __future__ import annotations

import pytest

from openmps.types import DN
from support import USER_PASSWORD, RawXml, World, he, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
MAD = "Managed Active Directory"
INVALID, NOT_FOUND, EXISTS, OPERATION = "0x80070057", "0x80072030", "0x80071392", "0x80131509"
ALL_USERS = "CN=AllUsers@alpineskihouse,CN=_Private," + ALPINE[7:]


def mad(procedure: str, /, **args: object) -> str:
    return request_xml(MAD, procedure, **args)


def child(name: str) -> str:
    return DN.from_path(ALPINE).child("CN", name).ldap_path


def props_of(world: World, path: str) -> dict[str, list[str]]:
    response = ok(world.submit(he("GetBusinessUser", path=path)))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def test_create_user_makes_an_all_users_member_enabled_with_a_password(world: World) -> None:
    upn = "dan@alpineskihouse.com"
    document = mad(
        "CreateUser", container=ALPINE, userPrincipalName=upn, newPassword=USER_PASSWORD, givenName="Dan"
    )
    response = ok(world.submit(document, "customer_admin"))
    made = response.find("data/object")
    assert made is not None and DN.from_path(made.get("path", "")) == DN.from_path(child(upn))
    groups = [DN.from_path(g.get("name", "")) for g in made.findall("memberOfGroup")]
    assert groups == [DN.parse(ALL_USERS)]
    assert USER_PASSWORD not in response.__repr__()
    got = props_of(world, child(upn))
    assert got["sAMAccountName"] == ["dan_alpineskihouse.c"]
    assert got["givenName"] == ["Dan"] and got["userAccountControl"] == ["512"]
    assert world.deployment.authenticator.authenticate(upn, USER_PASSWORD).dn == DN.from_path(child(upn))
    # no password: disabled
    ok(world.submit(mad("CreateUser", container=ALPINE, userPrincipalName="eve@alpineskihouse.com")))
    assert props_of(world, child("eve@alpineskihouse.com"))["userAccountControl"] == ["514"]


@pytest.mark.parametrize(
    ("arguments", "code", "fragments"),
    [
        ({"userPrincipalName": "x@contoso.com"}, INVALID, ("'contoso.com' is not a domain of",)),
        ({"userPrincipalName": "worker@alpineskihouse.com"}, EXISTS, ("worker@alpineskihouse.com",)),
        (
            {"userPrincipalName": "x@alpineskihouse.com", "sAMAccountName": "a*b"},
            INVALID,
            ("sAMAccountName",),
        ),
        ({"userPrincipalName": "x@alpineskihouse.com", "newPassword": "short"}, "0x800708C5", ("8 to 256",)),
        ({"userPrincipalName": "administrator@alpineskihouse.com"}, INVALID, ("reserved",)),
        (
            {
                "userPrincipalName": "x@alpineskihouse.com",
                "properties": RawXml('<property name="member"><value>x</value></property>'),
            },
            INVALID,
            ("'member' is not a settable attribute",),
        ),
        ({"container": org_path("WH"), "userPrincipalName": "x@alpineskihouse.com"}, INVALID, ("reseller",)),
    ],
)
def test_create_user_refuses_bad_input(
    world: World, arguments: dict[str, object], code: str, fragments: tuple[str, ...]
) -> None:
    refused(world, mad("CreateUser", **{"container": ALPINE, **arguments}), code, *fragments)


def test_delete_user_only_for_users_no_service_holds(world: World) -> None:
    ok(world.submit(mad("CreateUser", container=ALPINE, userPrincipalName="tmp@alpineskihouse.com")))
    ok(world.submit(mad("DeleteUser", path=child("tmp@alpineskihouse.com")), "customer_admin"))
    refused(world, he("GetBusinessUser", path=child("tmp@alpineskihouse.com")), NOT_FOUND)
    # a business user of Hosted Exchange: its plans record says so
    worker = child("worker@alpineskihouse.com")
    refused(world, mad("DeleteUser", path=worker), OPERATION, "BusinessUser", "Hosted Exchange")
    ok(world.submit(he("DeleteBusinessUser", path=worker)))  # which calls DeleteUser
    refused(world, he("GetBusinessUser", path=worker), NOT_FOUND)
    refused(world, mad("DeleteUser", path=ALPINE), INVALID, "is not a user")


def test_groups(world: World) -> None:
    response = ok(world.submit(mad("CreateGroup", container=ALPINE, name="Ski Team", description="racers")))
    made = response.find("data/object")
    assert made is not None and made.get("name") == "Ski Team"
    refused(world, mad("CreateGroup", container=ALPINE, name="Ski Team"), EXISTS, "Ski Team")
    refused(
        world,
        mad(
            "CreateGroup",
            container=ALPINE,
            name="x",
            properties=RawXml('<property name="groupType"><value>2</value></property>'),
        ),
        INVALID,
        "'groupType'",
    )
    refused(world, mad("CreateGroup", container=ALPINE, name="Domain Admins"), INVALID, "reserved")
    for own in ("CN=Admins@alpineskihouse," + ALPINE[7:], ALL_USERS):
        refused(world, mad("DeleteGroup", path="LDAP://" + own), OPERATION, "organization's own groups")
    ok(world.submit(mad("DeleteGroup", path=child("Ski Team")), "customer_admin"))
    refused(world, mad("DeleteGroup", path=child("Ski Team")), NOT_FOUND)
    refused(world, mad("DeleteGroup", path=child("worker@alpineskihouse.com")), INVALID, "is not a group")


def test_contacts(world: World) -> None:
    response = ok(world.submit(mad("CreateContact", container=ALPINE, name="Supplier", description="skis")))
    made = response.find("data/contact")
    assert made is not None and made.get("name") == "Supplier"
    refused(world, mad("CreateContact", container=ALPINE, name="Supplier"), EXISTS, "Supplier")
    refused(
        world,
        mad(
            "CreateContact",
            container=ALPINE,
            name="x",
            properties=RawXml('<property name="mail"><value>a@b.c</value></property>'),
        ),
        INVALID,
        "'mail'",
    )
    refused(world, mad("DeleteContact", path=child("worker@alpineskihouse.com")), INVALID, "is not a contact")
    ok(world.submit(mad("DeleteContact", path=child("Supplier")), "customer_admin"))
    refused(world, mad("DeleteContact", path=child("Supplier")), NOT_FOUND)


def test_another_tenant_cannot_tell_its_objects_exist(world: World) -> None:
    for document in (
        mad("DeleteUser", path=child("worker@alpineskihouse.com")),
        mad("CreateUser", container=ALPINE, userPrincipalName="z@alpineskihouse.com"),
        mad("CreateGroup", container=ALPINE, name="z"),
    ):
        outcome = world.submit(document, "other_customer_admin")
        assert outcome.error is not None and outcome.error.hex_code == NOT_FOUND


def test_create_and_delete_an_organization(world: World) -> None:
    made = ok(
        world.submit(mad("CreateOrganization", container=org_path("WH"), name="bare"), "reseller_admin")
    )
    org = made.find("data/org")
    assert org is not None and DN.from_path(org.get("path", "")) == DN.from_path(org_path("WH", "bare"))
    wko = {o.get("wkName") for o in org.findall("otherWellKnownObjects/obj")}
    assert {"UserCreators", "ChildOrgCreators", "OrgType", "MultiGroupPointer", "ForeignOwnerOrg"} <= wko
    typed = ok(world.submit(he("GetBusinessOrganization", path=org_path("WH", "bare"))))
    assert typed.find("data/org").get("type") == "customer"
    refused(world, mad("CreateOrganization", container=org_path("WH"), name="bare"), EXISTS, "bare")
    refused(
        world,
        mad("CreateOrganization", container=org_path("WH"), name="r", policyName="reseller"),
        INVALID,
        "not a hosting organization",
    )
    refused(world, mad("CreateOrganization", container=ALPINE, name="x"), INVALID, "customer organization")
    refused(
        world,
        mad("CreateOrganization", container=org_path("WH"), name="x", policyName="nope"),
        INVALID,
        "'policyName'",
    )
    ok(world.submit(mad("DeleteOrganization", path=org_path("WH", "bare")), "reseller_admin"))
    refused(world, he("GetBusinessOrganization", path=org_path("WH", "bare")), NOT_FOUND)


def test_delete_organization_refuses_what_is_not_empty_or_held_by_hosted_exchange(world: World) -> None:
    refused(world, mad("DeleteOrganization", path=ALPINE), "0x80072015", "still has users")
    ok(
        world.submit(
            he("CreateBusinessOrganization", container=org_path("WH"), name="held", SMTPDomain="held.example")
        )
    )
    refused(world, mad("DeleteOrganization", path=org_path("WH", "held")), OPERATION, "Hosted Exchange")
    ok(world.submit(he("DeleteBusinessOrganization", path=org_path("WH", "held"))))  # which calls it
    refused(world, he("GetBusinessOrganization", path=org_path("WH", "held")), NOT_FOUND)
    refused(
        world,
        mad("DeleteOrganization", path=org_path("WH")),
        "0x80072015",
        "still has users or organizations",
    )
