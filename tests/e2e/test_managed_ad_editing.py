"""Managed Active Directory editing (OpenMPS extensions): ModifyUser and ModifyOrganization.

Every refusal names what was wrong and changes nothing (the whole store is compared).
"""

from __future__ import annotations

import pytest
from lxml import etree as ET

from openmps.app import Deployment
from openmps.types import DN
from support import RawXml, he, make_alpineskihouse, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
MAD = "Managed Active Directory"
INVALID, NOT_FOUND, CONSTRAINT = "0x80070057", "0x80072030", "0x8007202F"


def mad(procedure: str, /, **args: object) -> str:
    return request_xml(MAD, procedure, **args)


def user_path(local: str, org: str = ALPINE) -> str:
    return DN.from_path(org).child("CN", f"{local}@alpineskihouse.com").ldap_path


def create(d: Deployment, local: str, **more: object) -> None:
    upn = f"{local}@alpineskihouse.com"
    ok(d.submit(he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False, **more)))


def attrs(d: Deployment, path: str) -> dict[str, list[str]]:
    response = ok(d.submit(he("GetBusinessUser", path=path)))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def props(**values: str | None) -> RawXml:
    """<properties>: a None value is a property without a value (remove the attribute)."""
    return RawXml(
        "".join(
            f'<property name="{n}"/>' if v is None else f'<property name="{n}"><value>{v}</value></property>'
            for n, v in values.items()
        )
    )


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    create(deployment, "ann", givenName="Ann", description="first")
    create(deployment, "max")
    return deployment


def test_modify_user_sets_names_properties_and_manager(d: Deployment) -> None:
    response = ok(
        d.submit(
            mad(
                "ModifyUser",
                path=user_path("ann"),
                displayName="Ann Smith",
                sn="Smith",
                title="Engineer",
                telephoneNumber="+1 555 0100",
                department="R&D",
                manager=user_path("max"),
                properties=props(company="Alpine", description=None),
            )
        )
    )
    changed = [a.text for a in response.iterfind("data/user/changed/attribute")]
    assert set(changed) == {
        "displayName",
        "sn",
        "title",
        "telephoneNumber",
        "department",
        "manager",
        "company",
        "description",
    }
    got = attrs(d, user_path("ann"))
    assert got["displayName"] == ["Ann Smith"] and got["title"] == ["Engineer"]
    assert got["department"] == ["R&D"] and got["company"] == ["Alpine"]
    assert DN.parse(got["manager"][0]) == DN.from_path(user_path("max"))
    assert "description" not in got  # a property without a value removes it
    assert got["givenName"] == ["Ann"]  # untouched


def test_repeating_an_edit_writes_nothing(d: Deployment) -> None:
    document = mad("ModifyUser", path=user_path("ann"), title="Engineer")
    ok(d.submit(document))
    again = ok(d.submit(document))
    assert [a.text for a in again.iterfind("data/user/changed/attribute")] == []


def test_upn_rename_keeps_sam_and_moves_the_mailbox_address(d: Deployment) -> None:
    create(d, "bob", planName="BaseMail", proxyAddresses=RawXml("<value>sales@alpineskihouse.com</value>"))
    before = attrs(d, user_path("bob"))
    response = ok(
        d.submit(mad("ModifyUser", path=user_path("bob"), userPrincipalName="robert@alpineskihouse.com"))
    )
    new_path = user_path("robert")
    data = response.find("data/user")
    assert data is not None and DN.from_path(data.get("path", "")) == DN.from_path(new_path)
    after = attrs(d, new_path)
    assert after["userPrincipalName"] == ["robert@alpineskihouse.com"]
    assert after["cn"] == ["robert@alpineskihouse.com"]
    assert after["sAMAccountName"] == before["sAMAccountName"]
    assert after["mail"] == ["robert@alpineskihouse.com"]
    assert after["proxyAddresses"] == [
        "SMTP:robert@alpineskihouse.com",
        "smtp:bob@alpineskihouse.com",
        "smtp:sales@alpineskihouse.com",
    ]
    assert after["mailNickname"] == before["mailNickname"]
    assert after["objectGUID"] == before["objectGUID"]
    # still a member of its groups, found by its new path
    members = ok(d.submit(he("GetBusinessUser", path=new_path))).findall(".//memberOfGroup")
    assert any("AllUsers@alpineskihouse" in (g.get("name") or "") for g in members)
    refused(d, he("GetBusinessUser", path=user_path("bob")), NOT_FOUND)
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    renamed = [e for e in events if e.get("type") == "RN"]
    assert len(renamed) == 1 and "robert@alpineskihouse.com" in ET.tostring(renamed[0]).decode()


def test_a_rename_in_another_case_keeps_the_entry(d: Deployment) -> None:
    ok(d.submit(mad("ModifyUser", path=user_path("ann"), userPrincipalName="Ann@alpineskihouse.com")))
    got = attrs(d, user_path("ann"))
    assert got["userPrincipalName"] == ["Ann@alpineskihouse.com"] and got["cn"] == ["Ann@alpineskihouse.com"]


def test_the_renamed_user_signs_in_with_its_new_upn(d: Deployment) -> None:
    create(d, "pat", newPassword="Us3rPassw0rd!")
    ok(d.submit(mad("ModifyUser", path=user_path("pat"), userPrincipalName="patricia@alpineskihouse.com")))
    caller = d.authenticator.authenticate("patricia@alpineskihouse.com", "Us3rPassw0rd!")
    assert caller.dn == DN.from_path(user_path("patricia"))


@pytest.mark.parametrize(
    ("arguments", "code", "fragments"),
    [
        ({"userPrincipalName": "max@alpineskihouse.com"}, CONSTRAINT, ("userPrincipalName",)),
        ({"userPrincipalName": "ann@contoso.com"}, INVALID, ("'contoso.com' is not a domain of",)),
        ({"userPrincipalName": "administrator@alpineskihouse.com"}, INVALID, ("reserved",)),
        ({"manager": "LDAP://CN=nobody@alpineskihouse.com," + ALPINE[7:]}, NOT_FOUND, ("nobody",)),
        ({"manager": user_path("ann").replace("CN=ann@alpineskihouse.com,", "")}, NOT_FOUND, ("manager",)),
        ({"manager": "LDAP://CN=Partner," + ALPINE[7:]}, NOT_FOUND, ("Partner",)),
        ({"properties": props(unicodePwd="x")}, INVALID, ("'unicodePwd' is not a settable attribute",)),
        ({"properties": props(userPrincipalName="a@b.c")}, INVALID, ("not a settable attribute",)),
        ({"title": "A", "properties": props(title="B")}, INVALID, ("'title' is given twice",)),
        ({"displayName": "x" * 65}, INVALID, ("longer than 64",)),
        ({}, INVALID, ("at least one attribute",)),
        ({"title": "A\u202e"}, INVALID, ("title",)),
    ],
)
def test_modify_user_refuses_bad_input_and_changes_nothing(
    d: Deployment, arguments: dict[str, object], code: str, fragments: tuple[str, ...]
) -> None:
    refused(d, mad("ModifyUser", path=user_path("ann"), **arguments), code, *fragments)


def test_a_manager_in_another_organization_is_not_found_as_a_missing_one(d: Deployment) -> None:
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="contoso",
                SMTPDomain="contoso.com",
            )
        )
    )
    contoso = org_path("WH", "contoso")
    upn = "boss@contoso.com"
    ok(d.submit(he("CreateBusinessUser", container=contoso, userPrincipalName=upn, isAdmin=False)))
    boss = DN.from_path(contoso).child("CN", upn).ldap_path
    refused(d, mad("ModifyUser", path=user_path("ann"), manager=boss), NOT_FOUND, "no such object")


def test_a_mailbox_address_in_use_refuses_the_rename(d: Deployment) -> None:
    create(d, "eve", planName="BaseMail", proxyAddresses=RawXml("<value>zed@alpineskihouse.com</value>"))
    create(d, "sam", planName="BaseMail")
    refused(
        d,
        mad("ModifyUser", path=user_path("sam"), userPrincipalName="zed@alpineskihouse.com"),
        CONSTRAINT,
        "proxyAddresses",
    )


def test_modify_organization(d: Deployment) -> None:
    response = ok(
        d.submit(
            mad("ModifyOrganization", path=ALPINE, description="Ski shop", properties=props(company="Alpine"))
        )
    )
    assert sorted(a.text for a in response.iterfind("data/org/changed/attribute")) == [
        "company",
        "description",
    ]
    org = ok(d.submit(he("GetBusinessOrganization", path=ALPINE)))
    found = {p.get("name"): [v.text for v in p] for p in org.iter("property")}
    assert found["description"] == ["Ski shop"] and found["company"] == ["Alpine"]


@pytest.mark.parametrize(
    ("arguments", "code", "fragments"),
    [
        ({}, INVALID, ("at least one attribute",)),
        ({"properties": props(uPNSuffixes="evil.example")}, INVALID, ("not a settable attribute",)),
        ({"path": user_path("ann")}, INVALID, ("is not an organization",)),
        ({"path": org_path("WH", "nowhere"), "description": "x"}, NOT_FOUND, ("nowhere",)),
    ],
)
def test_modify_organization_refuses_bad_input(
    d: Deployment, arguments: dict[str, object], code: str, fragments: tuple[str, ...]
) -> None:
    arguments = {"path": ALPINE, **arguments}
    refused(d, mad("ModifyOrganization", **arguments), code, *fragments)


PROTECTED = [
    "objectClass",
    "member",
    "userPassword",
    "nTSecurityDescriptor",
    "otherWellKnownObjects",
    "sAMAccountName",
    "unicodePwd",
    "uPNSuffixes",
    "objectSid",
    "objectGUID",
    "memberOf",
    "mail",
    "proxyAddresses",
    "userAccountControl",
    "cn",
]


@pytest.mark.parametrize("attribute", PROTECTED)
@pytest.mark.parametrize(
    ("procedure", "path"), [("ModifyUser", user_path("ann")), ("ModifyOrganization", ALPINE)]
)
def test_protected_attributes_are_refused(d: Deployment, procedure: str, path: str, attribute: str) -> None:
    refused(d, mad(procedure, path=path, properties=props(**{attribute: "x"})), INVALID, f"'{attribute}'")
    refused(d, mad(procedure, path=path, properties=props(**{attribute: None})), INVALID, f"'{attribute}'")
