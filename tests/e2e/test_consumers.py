"""Consumer users: a mailbox on a consumer store with no org pool, seen by no one, vanity domains."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import (
    RawXml,
    check_invariants,
    create_user,
    he,
    mail_stores,
    make_alpineskihouse,
    ok,
    org_path,
    refused,
    rm,
)

ALPINE = org_path("WH", "alpineskihouse")
BASE = ALPINE[7:]
ZED = f"LDAP://CN=zed@alpineskihouse.com,{BASE}"


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    consumer = mail_stores(("EXC01", "Consumer1", 20, True), ("EXC02", "Consumer2", 10, True))
    ok(deployment.submit(rm("AddExchangeResources", consumerMailStores=consumer)))
    return deployment


def consumer_request(local: str = "zed", **extra: object) -> str:
    arguments: dict[str, object] = {"sAMAccountName": f"c_{local}", **extra}
    return he(
        "CreateConsumerUser", container=ALPINE, userPrincipalName=f"{local}@alpineskihouse.com", **arguments
    )


def consumer_allocated(d: Deployment) -> dict[str, int]:
    resources = ok(d.submit(rm("GetExchangeResources"))).find("data/resources")
    return {
        e.findtext("mailStoreName"): int(e.findtext("allocatedMegabytes"))
        for e in resources.findall("consumerMailStore")
    }


def attrs(d: Deployment, path: str = ZED) -> dict[str, list[str]]:
    response = ok(d.submit(he("GetBusinessUser", path=path)))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def test_consumer_with_a_mailbox(d: Deployment) -> None:
    response = ok(d.submit(consumer_request(planName="ConsumerMail", newPassword="Blue-Sky-42!")))
    data = response.find("data")
    assert data.find("user").findall("memberOfGroup") == []  # not one of the org's users
    assert data.findtext("mail/size") == "5000"
    found = attrs(d)
    assert found["sAMAccountName"] == ["c_zed"]
    assert found["msExchQueryBaseDN"][0].casefold() == f"CN=zed@alpineskihouse.com,{BASE}".casefold()
    assert found["msExchHideFromAddressLists"] == ["TRUE"]
    assert "showInAddressBook" not in found
    allocation = ok(d.submit(rm("QueryMailboxAllocation", mailbox=ZED)))
    assert allocation.findtext("data/mailStore/mailStoreName") == "Consumer1"  # the most room
    check_invariants(d.sql)
    # the consumer's own pool grows and shrinks with its plan
    ok(
        d.submit(
            he(
                "CreateMailboxPlan",
                planName="ConsumerPlus",
                category="HeConsumer",
                features=RawXml('<feature name="MailboxSize">12000</feature>'),
            )
        )
    )
    ok(
        d.submit(
            he("ChangeUserMailboxPlan", path=ZED, planName="ConsumerPlus", customerTypeName="ConsumerUser")
        )
    )
    check_invariants(d.sql)
    ok(d.submit(he("DeleteConsumerUser", path=ZED)))
    assert set(consumer_allocated(d).values()) == {0}
    check_invariants(d.sql)


def test_consumers_stay_out_of_the_organizations_address_lists(d: Deployment) -> None:
    ok(d.submit(consumer_request(planName="ConsumerMail")))
    ok(d.submit(he("CreateOrganizationAddressLists", path=ALPINE)))
    assert "showInAddressBook" not in attrs(d)


def test_vanity_domain(d: Deployment) -> None:
    ok(d.submit(consumer_request(planName="ConsumerMail")))
    response = ok(d.submit(he("CreateConsumerVanityDomain", path=ZED, name="me", SMTPDomain="zed.example")))
    assert [v.text for v in response.findall("data/proxyAddresses/value")] == [
        "me@zed.example",
        "zed@alpineskihouse.com",
    ]
    found = attrs(d)
    assert found["mail"] == ["me@zed.example"]
    assert found["proxyAddresses"] == ["SMTP:me@zed.example", "smtp:zed@alpineskihouse.com"]
    # the domain is taken now, by anyone
    refused(
        d,
        he("CreateSMTPDomain", path=ALPINE, SMTPDomain="zed.example"),
        "0x8007202F",
        "already in use",
    )
    refused(d, he("DeleteConsumerUser", path=ZED), "0x80131509", "deleteSMTPDomain")
    ok(d.submit(he("DeleteConsumerUser", path=ZED, deleteSMTPDomain=True)))
    ok(d.submit(he("CreateSMTPDomain", path=ALPINE, SMTPDomain="zed.example")))  # free again


@pytest.mark.parametrize(
    ("request_xml", "code", "words"),
    [
        (consumer_request(planName="BaseMail"), "0x80131509", ("not a consumer plan",)),
        (
            he("CreateConsumerUser", container=ALPINE, userPrincipalName="x@alpineskihouse.com"),
            "0x80070057",
            ("sAMAccountName",),
        ),
        (consumer_request(sAMAccountName="far-too-long-for-a-sam-name"), "0x80070057", ("at most 20",)),
        (
            consumer_request(
                planName="ConsumerMail", mailStore=RawXml("<mailStoreName>BusinessMailStore1</mailStoreName>")
            ),
            "0x80072030",
            ("no consumer store",),
        ),
        (
            consumer_request(planName="ConsumerMail", mailStore=RawXml("<serverName>EXC09</serverName>")),
            "0x80072030",
            ("EXC09",),
        ),
        (
            consumer_request(
                planName="ConsumerMail",
                mailStore=RawXml("<mailStoreName>Consumer2</mailStoreName>"),
                newPassword="Blue-Sky-42!",
            ),
            None,
            (),
        ),
    ],
    ids=["business-plan", "no-sam", "long-sam", "business-store", "unknown-server", "named-store-ok"],
)
def test_bad_consumer_requests_change_nothing(
    d: Deployment, request_xml: str, code: str | None, words: tuple[str, ...]
) -> None:
    if code is None:
        ok(d.submit(request_xml))
        return
    refused(d, request_xml, code, *words)


def test_consumer_storage_runs_out_and_types_do_not_mix(d: Deployment) -> None:
    for i in range(6):  # 30 MB of consumer stores, 5,000 KB each: six fit
        ok(d.submit(consumer_request(f"c{i}", planName="ConsumerMail")))
    refused(d, consumer_request("c6", planName="ConsumerMail"), "0x80070070", "no consumer store")
    check_invariants(d.sql)
    # a business user's mailbox is not a consumer's, nor the other way round
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="biz@alpineskihouse.com",
                isAdmin=False,
            )
        )
    )
    biz = f"LDAP://CN=biz@alpineskihouse.com,{BASE}"
    refused(
        d,
        he("CreateMailbox", path=biz, planName="ConsumerMail", customerTypeName="ConsumerUser"),
        "0x80131509",
        "BusinessUser",
    )
    refused(d, he("DeleteConsumerUser", path=biz), "0x80070057", "not a consumer user")
    c1 = f"LDAP://CN=c1@alpineskihouse.com,{BASE}"
    refused(d, he("DeleteBusinessUser", path=c1), "0x80131509", "is a ConsumerUser")
    c0 = f"LDAP://CN=c0@alpineskihouse.com,{BASE}"
    refused(d, he("ChangeUserMailboxPlan", path=c0, planName="BaseMail"), "0x80131509", "ConsumerUser")


def test_consumer_store_space_goes_to_consumer_users_only(d: Deployment) -> None:
    """AllocateConsumerUserMailbox, called directly, refuses a business user (its space would lie
    outside its organization's pool) and a UPN that is not the target's; nothing is allocated."""
    create_user(d, ALPINE, "biz@alpineskihouse.com")
    biz = f"LDAP://CN=biz@alpineskihouse.com,{BASE}"
    allocate = {"kilobytes": 1000}
    refused(
        d,
        rm(
            "AllocateConsumerUserMailbox", userPrincipalName="biz@alpineskihouse.com", mailbox=biz, **allocate
        ),
        "0x80070057",
        "is not a consumer user",
    )
    ok(d.submit(consumer_request()))
    refused(
        d,
        rm(
            "AllocateConsumerUserMailbox", userPrincipalName="biz@alpineskihouse.com", mailbox=ZED, **allocate
        ),
        "0x80070057",
        "'userPrincipalName'",
        "is not the UPN of",
    )
    assert set(consumer_allocated(d).values()) == {0}
    store = ok(
        d.submit(
            rm(
                "AllocateConsumerUserMailbox",
                userPrincipalName="ZED@alpineskihouse.com",
                mailbox=ZED,
                **allocate,
            )
        )
    )
    assert store.findtext("data/mailStore/mailStoreName") == "Consumer1"
    check_invariants(d.sql)
