"""Managed Hosting GetOrgType and Managed Plans RemovePlanFromCustomer."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import HOSTING, World, he, make_alpineskihouse, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
BOSS = f"LDAP://CN=boss@alpineskihouse.com,{ALPINE[7:]}"
HOCS = "Hosted Office Communications Server"


def org_type(
    d: Deployment | World, path: str, persona: str = "domain_admin"
) -> tuple[str | None, str | None]:
    document = request_xml("Managed Hosting", "GetOrgType", path=path)
    response = ok(d.submit(document, persona) if isinstance(d, World) else d.submit(document))
    found = response.find("data/org")
    assert found is not None
    return found.get("path"), found.get("orgType")


def test_the_type_of_an_organization_and_of_what_lies_in_it(world: World) -> None:
    assert org_type(world, HOSTING) == (HOSTING, "hosting")
    assert org_type(world, org_path("WH")) == (org_path("WH"), "reseller")
    assert org_type(world, ALPINE) == (ALPINE, "customer")
    assert org_type(world, WORKER, "user") == (ALPINE, "customer")
    private = f"LDAP://CN=_Private,{ALPINE[7:]}"
    assert org_type(world, private) == (ALPINE, "customer")  # _Private is no organization of its own
    refused(
        world,
        request_xml("Managed Hosting", "GetOrgType", path="LDAP://CN=Users,DC=fabrikam,DC=com"),
        "0x80070057",
        "in no hosting organization",
    )
    refused(
        world,
        request_xml("Managed Hosting", "GetOrgType", path=WORKER.replace("worker", "nobody")),
        "0x80072030",
        "no such object",
    )
    hidden = world.submit(request_xml("Managed Hosting", "GetOrgType", path=ALPINE), "other_customer_admin")
    assert hidden.error is not None and hidden.error.hex_code == "0x80072030"


@pytest.fixture
def d(world: World) -> Deployment:
    deployment = world.deployment
    ok(deployment.submit(request_xml(HOCS, "Initialize")))
    ok(
        deployment.submit(
            request_xml("Managed Office Communications Server", "AddSharedPool", poolFQDN="p1.x")
        )
    )
    ok(
        deployment.submit(
            request_xml(HOCS, "AddAvailablePlans", organization=ALPINE).replace(
                "<executeData>", "<executeData><availablePlans><planName>BasicIM</planName></availablePlans>"
            )
        )
    )
    ok(
        deployment.submit(
            request_xml(HOCS, "CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")
        )
    )
    uri = "sip:worker@alpineskihouse.com"
    ok(deployment.submit(request_xml(HOCS, "CreateSipUser", user=WORKER, planName="BasicIM", primaryURI=uri)))
    return deployment


def remove(path: str, plan: str) -> str:
    return request_xml("Managed Plans", "RemovePlanFromCustomer", path=path, planName=plan)


def test_a_plan_is_taken_from_a_customer_record(d: Deployment) -> None:
    refused(d, remove(WORKER, "FederatedIM"), "0x80131509", "does not hold the plan 'FederatedIM'")
    refused(d, remove(WORKER, "NoSuchPlan"), "0x80072030", "NoSuchPlan")
    refused(d, remove(BOSS, "BasicIM"), "0x80131509", "does not hold")
    ok(d.submit(remove(WORKER, "basicim")))
    got = ok(d.submit(request_xml(HOCS, "GetUserPlanAssignment", user=WORKER)))
    assert got.find("data/plan") is None
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("detail") for e in events if e.get("type") == "PC"][-1] == "OCSUser BasicIM -> (none)"
    refused(d, remove(WORKER, "BasicIM"), "0x80131509", "does not hold")


def test_a_mailbox_plan_stays_with_its_mailbox(deployment: Deployment) -> None:
    d = deployment
    make_alpineskihouse(d, exchange=True)
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="mb@alpineskihouse.com",
                isAdmin=False,
                planName="BaseMail",
            )
        )
    )
    user = f"LDAP://CN=mb@alpineskihouse.com,{ALPINE[7:]}"
    refused(d, remove(user, "BaseMail"), "0x80131509", "DeleteMailbox takes both")
    ok(d.submit(he("DeleteMailbox", path=user)))
    refused(d, remove(user, "BaseMail"), "0x80131509", "does not hold")  # DeleteMailbox took it
