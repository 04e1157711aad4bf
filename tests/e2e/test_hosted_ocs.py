"""Hosted Office Communications Server: IM through plans available to the organization."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import RawXml, World, he, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
BOSS = f"LDAP://CN=boss@alpineskihouse.com,{ALPINE[7:]}"


def hocs(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Office Communications Server", procedure, **args)


def ocs(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Office Communications Server", procedure, **args)


@pytest.fixture
def d(world: World) -> Deployment:
    deployment = world.deployment
    ok(deployment.submit(hocs("Initialize")))
    ok(deployment.submit(hocs("Initialize")))  # idempotent
    ok(deployment.submit(ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    return deployment


def options(response: object) -> dict[str, str]:
    user = response.find("data/sipUser")  # type: ignore[attr-defined]
    return {child.tag: child.text or "" for child in user}


def test_an_organization_subscribes_then_enables_users_from_plans(d: Deployment) -> None:
    # no IM plan available yet: no SIP domain
    refused(
        d,
        hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com"),
        "0x80131509",
        "no IM plan",
    )
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BasicIM</planName>"))))
    ok(d.submit(hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")))
    created = ok(
        d.submit(
            hocs("CreateSipUser", user=WORKER, planName="BasicIM", primaryURI="sip:worker@alpineskihouse.com")
        )
    )
    got = options(created)
    assert got["enabled"] == "1" and got["enabledForEnhancedPresence"] == "1"
    assert got["enabledForFederation"] == "0"
    assert created.find("data/plan").get("name") == "BasicIM"
    # a plan not available to the org, or a mailbox plan, is refused
    refused(
        d,
        hocs("ChangeUserPlanAssignment", user=WORKER, planName="FederatedIM"),
        "0x80072030",
        "not available",
    )
    refused(
        d,
        hocs("CreateSipUser", user=BOSS, planName="BaseMail", primaryURI="sip:boss@alpineskihouse.com"),
        "0x80131509",
        "not an IM plan",
    )
    ok(
        d.submit(
            he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>FederatedIM</planName>"))
        )
    )
    changed = options(ok(d.submit(hocs("ChangeUserPlanAssignment", user=WORKER, planName="FederatedIM"))))
    assert changed["enabledForFederation"] == "1" and changed["publicNetworkEnabled"] == "1"
    # explicit options override the plan's
    boss = ok(
        d.submit(
            hocs(
                "CreateSipUser",
                user=BOSS,
                planName="FederatedIM",
                primaryURI="sip:boss@alpineskihouse.com",
                publicNetworkEnabled=False,
            )
        )
    )
    assert options(boss)["publicNetworkEnabled"] == "0" and options(boss)["enabledForFederation"] == "1"
    read = ok(d.submit(hocs("GetSipUserProperties", user=WORKER)))
    assert read.findtext("data/sipUser/planName") == "FederatedIM"
    # a plan taken away: users can be disabled, not enabled again
    ok(d.submit(hocs("EnableSipUser", user=WORKER, enabled=False)))
    ok(
        d.submit(
            he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>FederatedIM</planName>"))
        )
    )
    refused(d, hocs("EnableSipUser", user=WORKER), "0x80072030", "not available")
    ok(d.submit(hocs("DeleteSipUser", user=WORKER)))
    refused(d, hocs("EnableSipUser", user=WORKER), "0x80072030", "no IM plan")
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("detail") for e in events if e.get("type") == "PC"] == [
        "IM (none) -> BasicIM",
        "IM BasicIM -> FederatedIM",
        "IM (none) -> FederatedIM",
        "IM FederatedIM -> (none)",
    ]


def test_sip_plans(d: Deployment) -> None:
    ok(
        d.submit(
            hocs(
                "CreateSipPlan",
                planName="MeetIM",
                features=RawXml(
                    '<feature name="SipAnonymousMeetings">1</feature><feature name="SipMeetingPolicy">Open</feature>'
                ),
            )
        )
    )
    detail = ok(d.submit(he("GetPlanDetail", planName="MeetIM")))
    assert detail.findtext("data/sip/allowOrganizeMeetingWithAnonymousParticipants") == "1"
    assert detail.findtext("data/sip/meetingPolicy") == "Open"
    # a mailbox feature does not belong in an IM plan, nor an IM feature in a mailbox plan
    refused(
        d,
        hocs("CreateSipPlan", planName="Bad", features=RawXml('<feature name="MailboxSize">1</feature>')),
        "0x80070057",
        "does not belong",
    )
    refused(
        d,
        he("CreateMailboxPlan", planName="Bad", features=RawXml('<feature name="SipFederation">1</feature>')),
        "0x80070057",
        "does not belong",
    )


def test_a_plan_change_takes_the_old_plans_options_away(d: Deployment) -> None:
    ok(
        d.submit(
            hocs(
                "CreateSipPlan",
                planName="MeetIM",
                features=RawXml(
                    '<feature name="SipAnonymousMeetings">1</feature><feature name="SipMeetingPolicy">Open</feature>'
                ),
            )
        )
    )
    ims = RawXml("<planName>MeetIM</planName><planName>BasicIM</planName>")
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=ims)))
    ok(d.submit(hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")))
    before = options(
        ok(
            d.submit(
                hocs(
                    "CreateSipUser",
                    user=WORKER,
                    planName="MeetIM",
                    primaryURI="sip:worker@alpineskihouse.com",
                )
            )
        )
    )
    assert (
        before["meetingPolicy"] == "Open" and before["allowOrganizeMeetingWithAnonymousParticipants"] == "1"
    )
    after = options(ok(d.submit(hocs("ChangeUserPlanAssignment", user=WORKER, planName="BasicIM"))))
    assert after["meetingPolicy"] == "" and after["allowOrganizeMeetingWithAnonymousParticipants"] == "0"
    assert after["enabledForEnhancedPresence"] == "1"


def test_over_http_as_the_customer_admin(d: Deployment) -> None:
    from lxml import etree

    from openmps.web.app import create_app
    from support import USER_PASSWORD, AsgiClient

    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BasicIM</planName>"))))
    client = AsgiClient(create_app(d))
    auth = ("boss@alpineskihouse.com", USER_PASSWORD)
    for document in (
        hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com"),
        hocs("CreateSipUser", user=WORKER, planName="BasicIM", primaryURI="sip:worker@alpineskihouse.com"),
    ):
        response = client.post(
            "/provisioning", content=document.encode(), auth=auth, headers={"content-type": "text/xml"}
        )
        assert response.status_code == 200, response.text
    response = client.post(
        "/provisioning",
        content=hocs("GetSipUserProperties", user=WORKER).encode(),
        auth=("worker@alpineskihouse.com", USER_PASSWORD),
        headers={"content-type": "text/xml"},
    )
    user = etree.fromstring(response.content).find("data/sipUser")
    assert user.findtext("primaryURI") == "sip:worker@alpineskihouse.com"
    assert user.findtext("planName") == "BasicIM"
    # another tenant's admin cannot see it
    response = client.post(
        "/provisioning",
        content=hocs("GetSipUserProperties", user=WORKER).encode(),
        auth=("boss@contoso.com", USER_PASSWORD),
        headers={"content-type": "text/xml"},
    )
    assert response.status_code == 404


def test_the_python_door_answers_typed_sip_users(d: Deployment) -> None:
    from dataclasses import replace

    from openmps.engine.context import args
    from openmps.hosting.sip import SipDomain, SipUser
    from openmps.namespaces.hosted_ocs.procedures import NAMESPACE, PlannedSipUser
    from openmps.types import DN

    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BasicIM</planName>"))))
    admin = d.administrator()
    domain = d.engine.call(
        NAMESPACE,
        "CreateSipDomain",
        args(organization=ALPINE, address="alpineskihouse.com"),
        caller=admin,
        returns=SipDomain,
    )
    assert (domain.name, domain.owner) == ("alpineskihouse.com", "Tenant")
    assert domain.path == DN.parse(f"CN=alpineskihouse.com,CN=SIPDomains,CN=_Private,{ALPINE[7:]}")
    created = d.engine.call(
        NAMESPACE,
        "CreateSipUser",
        args(user=WORKER, planName="BasicIM", primaryURI="sip:worker@alpineskihouse.com"),
        caller=admin,
        returns=PlannedSipUser,
    )
    assert created.plan.name == "BasicIM" and created.user.plan_name is None
    assert created.user.enabled and created.user.enhanced_presence and not created.user.federation
    read = d.engine.call(NAMESPACE, "GetSipUserProperties", args(user=WORKER), caller=admin, returns=SipUser)
    assert read == replace(created.user, plan_name="BasicIM")
