"""Service plans: seeded samples, plan detail in seed 003's shape, custom plans, plans per org."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.app import Deployment
from openmps.types import DN
from support import RawXml, World, he, make_alpineskihouse, ok, org_path, snapshot
from support import refused as support_refused

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")


def refused(world: World, document: str, code: str, fragment: str, persona: str = "domain_admin") -> None:
    before = snapshot(world.deployment)
    outcome = world.submit(document, persona)
    assert outcome.error is not None, etree.tostring(outcome.response)
    assert outcome.error.hex_code == code and fragment in outcome.error.description, outcome.error
    assert snapshot(world.deployment) == before


def test_a_new_deployment_has_the_sample_plans(world: World) -> None:
    plans = ok(world.submit(he("GetPlans"), "user")).findall("data/plans/plan")
    assert [p.get("name") for p in plans] == [
        "BaseMail",
        "BasicIM",
        "ConsumerMail",
        "FederatedIM",
        "GoldMail",
        "PlatinumMailPlus",
    ]
    types = {p.get("name"): (p.get("type"), p.get("category")) for p in plans}
    assert types["ConsumerMail"] == ("ExchMailbox", "HeConsumer")
    assert types["BasicIM"] == ("OCSUser", "OcsBusiness")


def test_plan_detail_has_seed_003s_shape(world: World) -> None:
    data = ok(world.submit(he("GetPlanDetail", planName="goldmail"), "user")).find("data")
    mail = data.find("mail")
    assert {c.tag: c.text for c in mail} == {
        "size": "20000",
        "disablePOP": "0",
        "disableIMAP": "0",
        "disableHTTP": "0",
    }
    prop = data.find("properties/property")
    assert prop.get("name") == "msExchMailboxFolderSet" and prop.findtext("value") == "108303"


def test_custom_features_and_plans(world: World) -> None:
    types = RawXml(
        "<featureType><featureName>OmaEnabled</featureName><featureDescription>mobile access</featureDescription>"
        "<nativeAttribute>msExchOmaAdminWirelessEnable</nativeAttribute><parentNode>properties</parentNode>"
        "<xslDataType>int</xslDataType></featureType>"
    )
    ok(world.submit(he("CreatePlanFeatureTypes", featureTypes=types)))
    features = RawXml('<feature name="MailboxSize">100000</feature><feature name="OmaEnabled">1</feature>')
    ok(
        world.submit(
            he("CreateMailboxPlan", planName="Mobile", features=features, planDescription="100 MB + OMA")
        )
    )
    data = ok(world.submit(he("GetPlanDetail", planName="Mobile"))).find("data")
    assert data.findtext("mail/size") == "100000"
    assert data.find("properties/property").get("name") == "msExchOmaAdminWirelessEnable"


@pytest.mark.parametrize(
    ("document", "code", "fragment"),
    [
        (
            he("CreateMailboxPlan", planName="X", features=RawXml('<feature name="Nope">1</feature>')),
            "0x80072030",
            "'Nope'",
        ),
        (
            he(
                "CreateMailboxPlan",
                planName="X",
                features=RawXml('<feature name="MailboxSize">big</feature>'),
            ),
            "0x80070057",
            "whole number",
        ),
        (
            he("CreateMailboxPlan", planName="X", features=RawXml('<feature name="DisablePOP">2</feature>')),
            "0x80070057",
            "0 or 1",
        ),
        (he("CreateMailboxPlan", planName="GOLDMAIL", features=RawXml("")), "0x80071392", "already exists"),
        (he("CreateMailboxPlan", planName="X", features=RawXml("<size>1</size>")), "0x80070057", "<feature"),
        (he("GetPlanDetail", planName="Nope"), "0x80072030", "'Nope'"),
        (
            he(
                "CreatePlanFeatureTypes",
                featureTypes=RawXml(
                    "<featureType><featureName>Y</featureName><nativeAttribute>y</nativeAttribute><parentNode>elsewhere</parentNode></featureType>"
                ),
            ),
            "0x80070057",
            "parentNode",
        ),
        (
            he(
                "AddAvailablePlans",
                path=ALPINE,
                availablePlans=RawXml("<planName>BaseMail</planName><planName>Nope</planName>"),
            ),
            "0x80072030",
            "'Nope'",
        ),
        (
            he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>GoldMail</planName>")),
            "0x80072030",
            "not available",
        ),
        (
            he(
                "AddAvailablePlans",
                path=org_path("WH"),
                availablePlans=RawXml("<planName>BaseMail</planName>"),
            ),
            "0x80070057",
            "reseller organization",
        ),
    ],
)
def test_bad_input_changes_nothing(world: World, document: str, code: str, fragment: str) -> None:
    refused(world, document, code, fragment)


def test_plans_available_per_organization(world: World) -> None:
    plans = RawXml("<planName>BaseMail</planName><planName>GoldMail</planName>")
    ok(world.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=plans), "reseller_admin"))
    ok(
        world.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=plans), "reseller_admin")
    )  # idempotent
    names = lambda org, persona: [  # noqa: E731
        p.get("name")
        for p in ok(world.submit(he("GetAvailablePlans", path=org), persona)).findall(
            "data/availablePlans/plan"
        )
    ]
    assert names(ALPINE, "user") == ["BaseMail", "GoldMail"]
    assert names(CONTOSO, "other_customer_admin") == []
    ok(
        world.submit(
            he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>basemail</planName>"))
        )
    )
    assert names(ALPINE, "customer_admin") == ["GoldMail"]
    # a customer admin may read its plans but not choose them
    refused(
        world,
        he("AddAvailablePlans", path=ALPINE, availablePlans=plans),
        "0x80070005",
        "OrgCreator",
        "customer_admin",
    )


def events(world: World, org: str, **period: str) -> list[tuple[str, str]]:
    found = ok(world.submit(he("GetBillableEvents", path=org, **period), "reseller_admin")).findall(
        "data/events/event"
    )
    return [(e.get("type"), e.get("detail")) for e in found]


def test_billable_events_follow_the_lifecycle(world: World) -> None:
    assert events(world, ALPINE)[:2] == [
        ("EN", "BusinessOrganization alpineskihouse created"),
        ("AA", "PrimaryDomain alpineskihouse.com"),
    ]
    assert ("EN", "BusinessUser worker@alpineskihouse.com created") in events(world, ALPINE)
    ok(
        world.submit(
            he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>GoldMail</planName>"))
        )
    )
    ok(
        world.submit(
            he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>GoldMail</planName>"))
        )
    )
    worker = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
    ok(world.submit(he("DeleteBusinessUser", path=worker)))
    assert events(world, ALPINE)[-3:] == [
        ("PA", "GoldMail"),
        ("PR", "GoldMail"),
        ("DE", "BusinessUser worker@alpineskihouse.com deleted"),
    ]
    # contoso's events are its own
    assert all("alpineskihouse" not in detail for _, detail in events(world, CONTOSO))
    assert events(world, ALPINE, **{"from": "2999-01-01"}) == []
    assert len(events(world, ALPINE, to="2999-01-01T00:00:00+00:00")) == len(events(world, ALPINE))


def test_a_deleted_user_keeps_its_customer_record(world: World) -> None:
    worker = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
    guid = world.deployment.read(lambda d: d.get(DN.from_path(worker)).guid)
    ok(world.submit(he("DeleteBusinessUser", path=worker)))
    with world.deployment.transaction() as providers:
        record = providers.plans.customer(guid)
    assert record is not None and record.status == "Deleted" and record.customer_type == "BusinessUser"


def test_bad_periods_are_refused(world: World) -> None:
    refused(world, he("GetBillableEvents", path=ALPINE, to="yesterday"), "0x80070057", "'to'")


def test_a_plan_removed_in_a_request_is_unavailable_to_its_later_steps(deployment: Deployment) -> None:
    """The first step reads (and remembers) that GoldMail is available; after the second removes
    it, the third must not get it: the whole request fails and changes nothing."""
    make_alpineskihouse(deployment, exchange=True)
    steps = [
        he(
            "CreateBusinessUser",
            container=ALPINE,
            userPrincipalName=f"{name}@alpineskihouse.com",
            isAdmin=False,
            planName="GoldMail",
        )
        for name in ("first", "second")
    ]
    steps.insert(
        1, he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>GoldMail</planName>"))
    )
    executes = "".join(step.split("<procedure>")[1].split("</procedure>")[0] for step in steps)
    support_refused(
        deployment,
        f"<request><procedure>{executes}</procedure></request>",
        "0x80072030",
        "'GoldMail' is not available",
    )


def test_initialize_customer_plan_database_adds_only_what_is_missing(world: World) -> None:
    from sqlalchemy import delete, select

    from openmps.db.schema import plan_features, plans

    d = world.deployment
    before = snapshot(d)
    seeded = ok(world.submit(he("InitializeCustomerPlanDatabase")))
    assert snapshot(d) == before  # openmps init seeded them: nothing to add
    names = [p.get("name") for p in seeded.iterfind("data/plans/plan")]
    assert "BaseMail" in names and "GoldMail" in names and "BasicIM" not in names  # mailbox plans only
    with d.sql.begin() as conn:  # an older store that lacks a sample plan
        gold = conn.execute(select(plans.c.id).where(plans.c.name == "GoldMail")).scalar_one()
        conn.execute(delete(plan_features).where(plan_features.c.plan_id == gold))
        conn.execute(delete(plans).where(plans.c.id == gold))
    ok(world.submit(he("InitializeCustomerPlanDatabase")))
    detail = ok(world.submit(he("GetPlanDetail", planName="GoldMail")))
    assert detail.findtext("data/mail/size") == "20000"
    denied = world.submit(he("InitializeCustomerPlanDatabase"), "hosting_admin")
    assert denied.error is not None and denied.error.hex_code == "0x80070005"
