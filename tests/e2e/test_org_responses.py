"""The whole responses of Hosted Exchange's organization, public-folder, plan and recipient
procedures, byte for byte (GUIDs, SIDs and times masked): one scenario calls each of them, and
tests/e2e/golden/org_responses.txt holds what they answered."""

from __future__ import annotations

import re
from pathlib import Path

from openmps.app import Deployment
from support import HOSTING, RawXml, answered, golden_text, he, org_path, request_xml, rm

GOLDEN = Path(__file__).parent / "golden" / "org_responses.txt"
WH = org_path("WH")
ALPINE = org_path("WH", "alpineskihouse")
BASE = ALPINE[7:]
AMY = f"LDAP://CN=amy@alpineskihouse.com,{BASE}"
MASKS = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "GUID"),
    (re.compile(r"S-1-5-21(-\d+)+"), "SID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "TIME"),
    (re.compile(r"\d{14}\.0Z"), "TIME"),
)


def scenario(d: Deployment) -> list[tuple[str, str]]:
    mail_store = RawXml(
        "<sourceMailStores><sourceMailStore><serverName>EXBE01</serverName>"
        "<mailStoreName>BusinessMailStore1</mailStoreName><megabytes>50</megabytes>"
        "</sourceMailStore></sourceMailStores>"
    )
    sip = "Hosted Office Communications Server"
    steps = [
        he("CreateResellerOrganization", container=HOSTING, name="WH", description="a reseller"),
        rm(
            "AddExchangeResources",
            mailStores=RawXml(
                "<mailStore><serverName>EXBE01</serverName><mailStoreName>BusinessMailStore1</mailStoreName>"
                "<megabytes>1000</megabytes><shared>true</shared></mailStore>"
            ),
            publicStores=RawXml(
                "<publicStore><serverName>EXPF01</serverName><megabytes>500</megabytes></publicStore>"
            ),
        ),
        he(
            "CreatePlanFeatureTypes",
            featureTypes=RawXml(
                "<featureType><featureName>OmaEnabled</featureName><featureDescription>mobile</featureDescription>"
                "<nativeAttribute>msExchOmaAdminWirelessEnable</nativeAttribute><parentNode>properties</parentNode>"
                "<xslDataType>int</xslDataType></featureType>"
            ),
        ),
        he(
            "CreateMailboxPlan",
            planName="Mobile",
            planDescription="100 MB + OMA",
            features=RawXml(
                '<feature name="MailboxSize">100000</feature><feature name="OmaEnabled">1</feature>'
            ),
        ),
        request_xml(
            sip,
            "CreateSipPlan",
            planName="MeetIM",
            features=RawXml(
                '<feature name="SipAnonymousMeetings">1</feature><feature name="SipMeetingPolicy">Open</feature>'
            ),
        ),
        he("GetPlans"),
        he("GetPlans", category="HeConsumer"),
        he("GetPlanDetail", planName="Mobile"),
        he("GetPlanDetail", planName="GoldMail"),
        he("GetPlanDetail", planName="MeetIM"),
        he(
            "CreateBusinessOrganization",
            container=WH,
            name="alpineskihouse",
            SMTPDomain="alpineskihouse.com",
            description="skis",
            properties=RawXml('<property name="telephoneNumber"><value>555</value></property>'),
            mailStore=mail_store,
            publicStore=RawXml(
                "<sourcePublicStoreServer>EXPF01</sourcePublicStoreServer><megabytes>100</megabytes>"
            ),
            createSMTPDomain=True,
            createAddressLists=True,
            availablePlans=RawXml("<planName>BaseMail</planName>"),
        ),
        he("GetBusinessOrganization", path=ALPINE),
        he("GetBusinessOrganization", path=WH),
        he("CreatePublicFolder", path=ALPINE, megabytes=50, name="Sales", SMTPDomain="alpineskihouse.com"),
        he("GetPublicFolders", path=ALPINE),
        he("DeletePublicFolder", path=ALPINE, name="Sales"),
        he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>Mobile</planName>")),
        he("GetAvailablePlans", path=ALPINE),
        he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>Mobile</planName>")),
        he("CreateBusinessUser", container=ALPINE, userPrincipalName="amy@alpineskihouse.com", isAdmin=False),
        he("CreateMailbox", path=AMY, planName="BaseMail"),
        he(
            "CreateContact",
            container=ALPINE,
            name="Partner",
            targetAddress="pat@example.org",
            displayName="Pat",
            proxyAddresses=RawXml("<value>pat2@alpineskihouse.com</value>"),
        ),
        he(
            "CreateDistributionList",
            container=ALPINE,
            name="Sales List",
            managedBy="amy@alpineskihouse.com",
            description="sales",
            proxyAddresses=RawXml("<value>sales2@alpineskihouse.com</value>"),
        ),
        he("AddDistributionListMember", path=f"LDAP://CN=Sales List,{BASE}", member=AMY),
        he(
            "AddDistributionListMember",
            path=f"LDAP://CN=Sales List,{BASE}",
            member=f"LDAP://CN=Partner,{BASE}",
        ),
        he("GetRecipients", path=ALPINE),
        he("RemoveDistributionListMember", path=f"LDAP://CN=Sales List,{BASE}", member=AMY),
        he("DeleteDistributionList", path=f"LDAP://CN=Sales List,{BASE}"),
        he("DeleteContact", path=f"LDAP://CN=Partner,{BASE}"),
        he("GetRecipients", path=ALPINE),
        he("GetBillableEvents", path=ALPINE),
        he("GetBillableEvents", path=ALPINE, **{"from": "2000-01-01", "to": "2000-01-02"}),
        he("DeleteMailbox", path=AMY),
        he("DeleteBusinessUser", path=AMY),
        he("DeleteBusinessOrganization", path=ALPINE, deleteSMTPDomain=True),
        he("DeleteResellerOrganization", path=WH),
    ]
    return answered(d.submit, steps, MASKS)


def test_responses_are_unchanged(deployment: Deployment) -> None:
    assert golden_text(scenario(deployment)) == GOLDEN.read_text(encoding="utf-8")
