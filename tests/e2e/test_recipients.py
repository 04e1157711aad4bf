"""Contacts and distribution lists: mail-enabled, addresses unique, members from the same org only."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import HOSTING, RawXml, he, make_alpineskihouse, ok, org_path, refused

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
BASE = ALPINE[7:]
SALES = f"LDAP://CN=Sales,{BASE}"
PARTNER = f"LDAP://CN=Partner,{BASE}"
AMY = f"LDAP://CN=amy@alpineskihouse.com,{BASE}"
ADMINS = f"LDAP://CN=Admins@alpineskihouse,{BASE}"


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    ok(
        deployment.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="contoso",
                SMTPDomain="contoso.com",
            )
        )
    )
    for org, upn in ((ALPINE, "amy@alpineskihouse.com"), (CONTOSO, "cal@contoso.com")):
        ok(deployment.submit(he("CreateBusinessUser", container=org, userPrincipalName=upn, isAdmin=False)))
    ok(deployment.submit(he("CreateMailbox", path=AMY, planName="BaseMail")))
    return deployment


def recipients(d: Deployment, org: str = ALPINE) -> dict[str, dict[str, object]]:
    response = ok(d.submit(he("GetRecipients", path=org)))
    return {
        r.get("name"): {
            "kind": r.tag,
            "addresses": [v.text for v in r.findall("proxyAddresses/value")],
            "target": r.get("targetAddress"),
            "members": [m.get("path").casefold() for m in r.findall("member")],
        }
        for r in response.find("data/recipients")
    }


def test_contacts_and_lists(d: Deployment) -> None:
    response = ok(
        d.submit(he("CreateContact", container=ALPINE, name="Partner", targetAddress="pat@partner.example"))
    )
    assert response.find("data/contact").get("targetAddress") == "pat@partner.example"
    # the same outside person is a contact of another organization too, with its own address
    ok(d.submit(he("CreateContact", container=CONTOSO, name="Partner", targetAddress="pat@partner.example")))
    ok(
        d.submit(
            he(
                "CreateDistributionList",
                container=ALPINE,
                name="Sales",
                managedBy="amy@alpineskihouse.com",
                proxyAddresses=RawXml("<value>orders@alpineskihouse.com</value>"),
            )
        )
    )
    for member in (AMY, PARTNER):
        ok(d.submit(he("AddDistributionListMember", path=SALES, member=member)))
    found = recipients(d)
    assert found["Partner"] == {
        "kind": "contact",
        "addresses": ["pat@alpineskihouse.com"],
        "target": "pat@partner.example",
        "members": [],
    }
    assert found["Sales"]["addresses"] == ["Sales@alpineskihouse.com", "orders@alpineskihouse.com"]
    assert sorted(found["Sales"]["members"]) == sorted([AMY.casefold(), PARTNER.casefold()])
    assert recipients(d, CONTOSO)["Partner"]["addresses"] == ["pat@contoso.com"]
    # a member that goes away leaves the list
    ok(d.submit(he("DeleteContact", path=PARTNER)))
    assert recipients(d)["Sales"]["members"] == [AMY.casefold()]
    ok(d.submit(he("RemoveDistributionListMember", path=SALES, member=AMY)))
    ok(d.submit(he("DeleteDistributionList", path=SALES)))
    assert recipients(d) == {}
    # the addresses are free again
    ok(
        d.submit(
            he("CreateContact", container=ALPINE, name="Orders", targetAddress="o@x.example", alias="orders")
        )
    )


@pytest.mark.parametrize(
    ("request_xml", "code", "words"),
    [
        (
            he("CreateContact", container=ALPINE, name="X", targetAddress="not-an-address"),
            "0x80070057",
            ("targetAddress",),
        ),
        (
            he("CreateContact", container=ALPINE, name="X", targetAddress="x@y.example", alias="amy"),
            "0x8007202F",
            ("already in use",),
        ),
        (
            he(
                "CreateContact",
                container=ALPINE,
                name="X",
                targetAddress="x@y.example",
                proxyAddresses=RawXml("<value>x@contoso.com</value>"),
            ),
            "0x80070057",
            ("not a domain of",),
        ),
        (
            he("CreateDistributionList", container=ALPINE, name="L", managedBy="cal@contoso.com"),
            "0x80072030",
            ("has no user 'cal@contoso.com'",),
        ),
        (
            he("AddDistributionListMember", path=ADMINS, member=AMY),
            "0x80070057",
            ("is not a group of a business organization",),
        ),
        (
            he("CreateContact", container=org_path("WH"), name="X", targetAddress="x@y.example"),
            "0x80070057",
            ("not a customer",),
        ),
        (
            he("CreateContact", container=HOSTING, name="X", targetAddress="x@y.example"),
            "0x80070057",
            ("not a customer",),
        ),
    ],
    ids=["bad-target", "alias-taken", "foreign-domain", "foreign-owner", "role-group", "reseller", "hosting"],
)
def test_bad_requests_change_nothing(
    d: Deployment, request_xml: str, code: str, words: tuple[str, ...]
) -> None:
    refused(d, request_xml, code, *words)


def test_members_come_from_the_same_organization(d: Deployment) -> None:
    ok(d.submit(he("CreateDistributionList", container=ALPINE, name="Sales")))
    cal = f"LDAP://CN=cal@contoso.com,{CONTOSO[7:]}"
    refused(d, he("AddDistributionListMember", path=SALES, member=cal), "0x80070057", "is not a recipient of")
    # a user without a mailbox is no mail recipient, nor is a role group
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="bo@alpineskihouse.com",
                isAdmin=False,
            )
        )
    )
    bo = f"LDAP://CN=bo@alpineskihouse.com,{BASE}"
    refused(d, he("AddDistributionListMember", path=SALES, member=bo), "0x80070057", "not a mail recipient")
    refused(
        d, he("AddDistributionListMember", path=SALES, member=ADMINS), "0x80070057", "not a mail recipient"
    )
    refused(d, he("AddDistributionListMember", path=SALES, member=SALES), "0x80070057", "itself")
