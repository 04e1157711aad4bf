"""The whole responses of Hosted Exchange's user, mailbox, consumer, address-list and SMTP-domain
procedures, byte for byte (GUIDs, SIDs and times masked): one scenario calls each of them, and
tests/e2e/golden/mail_responses.txt holds what they answered."""

from __future__ import annotations

import re
from pathlib import Path

from openmps.app import Deployment
from support import RawXml, answered, golden_text, he, mail_stores, make_alpineskihouse, ok, org_path, rm

GOLDEN = Path(__file__).parent / "golden" / "mail_responses.txt"
ALPINE = org_path("WH", "alpineskihouse")
BASE = ALPINE[7:]
AMY = f"LDAP://CN=amy@alpineskihouse.com,{BASE}"
BEN = f"LDAP://CN=ben@alpineskihouse.com,{BASE}"
CAT = f"LDAP://CN=cat@alpineskihouse.com,{BASE}"
ZED = f"LDAP://CN=zed@alpineskihouse.com,{BASE}"
AFTER = '<after source="executeData" destination="data" mode="merge"/>'
MASKS = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "GUID"),
    (re.compile(r"S-1-5-21(-\d+)+"), "SID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "TIME"),
    (re.compile(r"\d{14}\.0Z"), "TIME"),
    (re.compile(r"\$argon2id\$[^<]*"), "HASH"),
)


def scenario(d: Deployment) -> list[tuple[str, str]]:
    make_alpineskihouse(d, exchange=True)
    consumer = mail_stores(("EXC01", "Consumer1", 20, True), ("EXC02", "Consumer2", 10, True))
    ok(d.submit(rm("AddExchangeResources", consumerMailStores=consumer)))
    steps = [
        he("CreateSMTPDomain", path=ALPINE, SMTPDomain="alpine.example"),
        he("CreateSMTPDomain", path=ALPINE, SMTPDomain="alpine.example", domainTypeName="SecondaryDomain"),
        he("CreateSMTPDomain", path=ALPINE, SMTPDomain="skis.example", domainTypeName="PrimaryDomain"),
        he("CreateSMTPDomain", path=ALPINE, SMTPDomain="alpineskihouse.com", domainTypeName="PrimaryDomain"),
        he("GetSMTPDomains", path=ALPINE),
        he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="skis.example"),
        he("CreateOrganizationAddressLists", path=ALPINE),
        he(
            "CreateBusinessUser",
            container=ALPINE,
            userPrincipalName="amy@alpineskihouse.com",
            isAdmin=True,
            newPassword="Blue-Sky-42!",
            displayName="Amy",
            givenName="Amy",
            sn="Alpine",
            properties=RawXml('<property name="telephoneNumber"><value>555</value></property>'),
            planName="BaseMail",
            proxyAddresses=RawXml("<value>amy2@alpine.example</value>"),
            alias="amya",
        ),
        he("CreateBusinessUser", container=ALPINE, userPrincipalName="ben@alpineskihouse.com", isAdmin=False),
        he(
            "CreateMailbox",
            path=BEN,
            planName="GoldMail",
            SMTPDomain="alpine.example",
            mailStore=RawXml(
                "<serverName>EXBE02</serverName><mailStoreName>BusinessMailStore2</mailStoreName>"
            ),
        ),
        he("ChangeUserMailboxPlan", path=BEN, planName="BaseMail"),
        he("ChangeUserMailboxPlan", path=BEN, planName="BaseMail"),
        he("GetBusinessUser", path=BEN),
        he("DeleteMailbox", path=BEN),
        he("GetBusinessUser", path=AMY),
        he("GetBusinessUsers", path=ALPINE),
        # no <after>: nothing reads the outputs
        he(
            "CreateBusinessUser",
            container=ALPINE,
            userPrincipalName="cat@alpineskihouse.com",
            isAdmin=False,
            planName="BaseMail",
        ).replace(AFTER, ""),
        he("GetBusinessUser", path=CAT),
        he("DeleteBusinessUser", path=CAT),
        he("DeleteBusinessUser", path=BEN),
        he(
            "CreateConsumerUser",
            container=ALPINE,
            userPrincipalName="zed@alpineskihouse.com",
            sAMAccountName="c_zed",
            planName="ConsumerMail",
            newPassword="Blue-Sky-42!",
        ),
        he(
            "CreateConsumerVanityDomain",
            path=ZED,
            name="zed",
            SMTPDomain="zed.example",
            createSMTPDomain=True,
        ),
        he("ChangeUserMailboxPlan", path=ZED, planName="ConsumerMail", customerTypeName="ConsumerUser"),
        he("GetBusinessUser", path=ZED),
        he("DeleteConsumerUser", path=ZED, deleteSMTPDomain=True),
        he(
            "CreateConsumerUser",
            container=ALPINE,
            userPrincipalName="yan@alpineskihouse.com",
            sAMAccountName="c_yan",
        ),
        he("GetBusinessUsers", path=ALPINE),
    ]
    return answered(d.submit, steps, MASKS)


def test_responses_are_unchanged(deployment: Deployment) -> None:
    assert golden_text(scenario(deployment)) == GOLDEN.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the golden file (only before a port, never to pass after one)
    import sys
    import tempfile

    from openmps.app import init_deployment
    from openmps.types import Secret
    from support import ADMIN_PASSWORD, fast_passwords

    with tempfile.TemporaryDirectory() as home:
        deployment = init_deployment(
            Path(home) / "home",
            domain="fabrikam.com",
            admin_password=Secret(ADMIN_PASSWORD),
            passwords=fast_passwords(),
        )
        GOLDEN.write_text(golden_text(scenario(deployment)), encoding="utf-8")
    sys.exit(0)
