"""Hosted OCS: an organization's IM plans (its subscription) and a user's, read and changed."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import RawXml, World, he, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
BOSS = f"LDAP://CN=boss@alpineskihouse.com,{ALPINE[7:]}"


def hocs(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Office Communications Server", procedure, **args)


def plans(*names: str) -> RawXml:
    return RawXml("".join(f"<planName>{n}</planName>" for n in names))


@pytest.fixture
def d(world: World) -> Deployment:
    deployment = world.deployment
    ok(deployment.submit(hocs("Initialize")))
    ok(
        deployment.submit(
            request_xml("Managed Office Communications Server", "AddSharedPool", poolFQDN="p1.x")
        )
    )
    return deployment


def assigned(d: Deployment, org: str = ALPINE) -> tuple[str | None, list[str | None]]:
    answer = ok(d.submit(hocs("GetOrganizationPlanAssignment", organization=org)))
    names = [p.get("name") for p in answer.iterfind("data/availablePlans/plan")]
    return answer.findtext("data/subscribed"), names


def test_an_organization_subscribes_changes_and_unsubscribes(d: Deployment) -> None:
    assert assigned(d) == ("false", [])
    added = ok(d.submit(hocs("AddAvailablePlans", organization=ALPINE, availablePlans=plans("BasicIM"))))
    assert added.findtext("data/subscribed") == "true"
    ok(
        d.submit(hocs("AddAvailablePlans", organization=ALPINE, availablePlans=plans("BasicIM")))
    )  # idempotent
    ok(d.submit(hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")))
    uri = "sip:worker@alpineskihouse.com"
    ok(d.submit(hocs("CreateSipUser", user=WORKER, planName="BasicIM", primaryURI=uri)))
    got = ok(d.submit(hocs("GetUserPlanAssignment", user=WORKER)))
    assert got.find("data/plan").get("name") == "BasicIM"
    assert ok(d.submit(hocs("GetUserPlanAssignment", user=BOSS))).find("data/plan") is None
    # BasicIM is held by worker: it cannot be withdrawn, and nothing changes
    refused(
        d,
        hocs("ChangeOrganizationPlanAssignment", organization=ALPINE, availablePlans=plans("FederatedIM")),
        "0x80131509",
        "'BasicIM' is held by 'worker@alpineskihouse.com'",
    )
    changed = ok(
        d.submit(
            hocs(
                "ChangeOrganizationPlanAssignment",
                organization=ALPINE,
                availablePlans=plans("BasicIM", "FederatedIM"),
            )
        )
    )
    assert [p.get("name") for p in changed.iterfind("data/availablePlans/plan")] == ["BasicIM", "FederatedIM"]
    ok(d.submit(hocs("ChangeUserPlanAssignment", user=WORKER, planName="FederatedIM")))
    ok(
        d.submit(
            hocs("ChangeOrganizationPlanAssignment", organization=ALPINE, availablePlans=plans("FederatedIM"))
        )
    )
    assert assigned(d) == ("true", ["FederatedIM"])
    ok(d.submit(hocs("DeleteSipUser", user=WORKER)))
    ok(d.submit(hocs("ChangeOrganizationPlanAssignment", organization=ALPINE)))  # none: unsubscribed
    assert assigned(d) == ("false", [])
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [(e.get("type"), e.get("detail")) for e in events if e.get("type") in ("PA", "PR")] == [
        ("PA", "BasicIM"),
        ("PA", "FederatedIM"),
        ("PR", "BasicIM"),
        ("PR", "FederatedIM"),
    ]


def test_a_users_options_are_set_over_its_plan(d: Deployment) -> None:
    ok(d.submit(hocs("AddAvailablePlans", organization=ALPINE, availablePlans=plans("BasicIM"))))
    ok(d.submit(hocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")))
    refused(
        d, hocs("SetSipUserProperties", user=WORKER, enabledForFederation=True), "0x80072030", "no IM plan"
    )
    ok(
        d.submit(
            hocs("CreateSipUser", user=WORKER, planName="BasicIM", primaryURI="sip:worker@alpineskihouse.com")
        )
    )
    set_ = ok(d.submit(hocs("SetSipUserProperties", user=WORKER, enabledForFederation=True, enabled=False)))
    assert set_.findtext("data/sipUser/enabledForFederation") == "1"
    assert set_.findtext("data/sipUser/enabled") == "0"
    assert set_.findtext("data/sipUser/planName") == "BasicIM"


@pytest.mark.parametrize(
    ("document", "code", "fragment"),
    [
        (
            hocs("AddAvailablePlans", organization=ALPINE, availablePlans=plans("BaseMail")),
            "0x80131509",
            "not an IM plan",
        ),
        (
            hocs("AddAvailablePlans", organization=ALPINE, availablePlans=plans("NoSuch")),
            "0x80072030",
            "NoSuch",
        ),
        (
            hocs(
                "ChangeOrganizationPlanAssignment",
                organization=ALPINE,
                availablePlans=plans("BasicIM", "GoldMail"),
            ),
            "0x80131509",
            "not an IM plan",
        ),
        (hocs("GetOrganizationPlanAssignment", organization=org_path("WH")), "0x80070057", ""),
        (hocs("GetUserPlanAssignment", user=ALPINE), "0x80070057", "is not a user"),
        (
            hocs("GetUserPlanAssignment", user=WORKER.replace("worker@", "nobody@")),
            "0x80072030",
            "no such object",
        ),
        (
            hocs("SetSipUserProperties", user=WORKER, enabledForFederation="perhaps"),
            "0x80070057",
            "enabledForFederation",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    d: Deployment, document: str, code: str, fragment: str
) -> None:
    refused(d, document, code, fragment)


def test_a_customer_admin_of_another_organization_sees_nothing(world: World, d: Deployment) -> None:
    outcome = world.submit(hocs("GetOrganizationPlanAssignment", organization=ALPINE), "other_customer_admin")
    assert outcome.error is not None and outcome.error.hex_code == "0x80072030"
    assert world.submit(
        hocs("GetOrganizationPlanAssignment", organization=CONTOSO), "other_customer_admin"
    ).ok
