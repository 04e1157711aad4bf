"""Mailboxes: CreateMailbox (alone and through CreateBusinessUser), ChangeUserMailboxPlan, DeleteMailbox.

Each refusal must name what was wrong and change nothing (the whole store is compared).
"""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.app import Deployment
from support import RawXml, check_invariants, he, make_alpineskihouse, ok, org_path, refused, rm

ALPINE = org_path("WH", "alpineskihouse")


def user_path(local: str) -> str:
    return f"LDAP://CN={local}@alpineskihouse.com,{ALPINE[7:]}"


def create(d: Deployment, local: str, **mail: object) -> etree._Element:
    return d.submit(
        he(
            "CreateBusinessUser",
            container=ALPINE,
            userPrincipalName=f"{local}@alpineskihouse.com",
            isAdmin=False,
            **mail,
        )
    ).response


def entry(d: Deployment, local: str) -> dict[str, list[str]]:
    response = ok(d.submit(he("GetBusinessUser", path=user_path(local))))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def free_kb(d: Deployment) -> dict[str, int]:
    """Per store: the organization's allocation not yet used by mailboxes."""
    with d.transaction() as providers:
        org = providers.org_chain(org_path_dn())[0]
        return {s.name: s.free_kb for s in providers.resources.slots(org.entry.guid)}


def org_path_dn() -> object:
    from openmps.types import DN

    return DN.from_path(ALPINE)


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    return deployment


def test_create_business_user_with_a_plan_stamps_the_mailbox(d: Deployment) -> None:
    response = create(
        d,
        "carol",
        planName="GoldMail",
        alias="carol.k",
        proxyAddresses=RawXml(
            "<value>sales@alpineskihouse.com</value><value>SMTP:Carol@AlpineSkiHouse.com</value>"
        ),
    )
    data = response.find("data")
    assert data is not None, etree.tostring(response)
    # the primary address comes first; a duplicate of it (any case, smtp: prefix) is dropped
    # the request's own <proxyAddresses> comes back first (after merge), then the mailbox's
    assert [v.text for v in data.findall("proxyAddresses")[-1]] == [
        "carol@alpineskihouse.com",
        "sales@alpineskihouse.com",
    ]
    attrs = entry(d, "carol")
    assert attrs["mail"] == ["carol@alpineskihouse.com"]
    assert attrs["mailNickname"] == ["carol.k"]
    assert attrs["proxyAddresses"] == ["SMTP:carol@alpineskihouse.com", "smtp:sales@alpineskihouse.com"]
    assert attrs["mDBStorageQuota"] == ["20000"] and attrs["mDBUseDefaults"] == ["FALSE"]
    assert "protocolSettings" not in attrs  # GoldMail leaves every protocol on
    assert attrs["homeMDB"][0].startswith("CN=BusinessMailStore")
    assert attrs["msExchMailboxGuid"]
    assert sum(50 * 1024 - kb for kb in free_kb(d).values()) == 20000
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("detail") for e in events if e.get("type") == "PC"] == ["(none) -> GoldMail"]
    check_invariants(d.sql)


def test_a_bulk_request_without_after_stamps_the_same_mailboxes(d: Deployment) -> None:
    """Nothing reads a step's outputs without an <after>, so CreateMailbox skips building them;
    what it writes must be what a request that reads them gets."""
    ok(d.submit(create_request("read", planName="BaseMail")))
    users = "".join(
        f"<user><userPrincipalName>{n}@alpineskihouse.com</userPrincipalName></user>" for n in "xy"
    )
    bulk = (
        f"<request><data><users>{users}</users></data><procedure>"
        '<execute namespace="Hosted Exchange" procedure="CreateBusinessUser">'
        '<forEach name="user" root="data" path="users/user"/>'
        f"<executeData><container>{ALPINE}</container><isAdmin>false</isAdmin>"
        "<planName>BaseMail</planName></executeData>"
        '<before source="user" sourcePath="userPrincipalName" destination="executeData"/>'
        "</execute></procedure></request>"
    )
    response = ok(d.submit(bulk))
    assert response.find(".//properties") is None
    per_user = {"mail", "mailNickname", "proxyAddresses", "msExchMailboxGuid", "homeMDB"}
    per_user |= {"msExchHomeServerName", "cn", "name", "userPrincipalName", "sAMAccountName"}
    per_user |= {"displayName", "objectGUID", "objectSid", "distinguishedName"}
    read = {k: v for k, v in entry(d, "read").items() if k not in per_user}
    for name in "xy":
        attrs = entry(d, name)
        assert attrs["mail"] == [f"{name}@alpineskihouse.com"]
        assert attrs["homeMDB"] and attrs["msExchHomeServerName"] and attrs["msExchMailboxGuid"]
        assert {k: v for k, v in attrs.items() if k not in per_user} == read
    assert sum(50 * 1024 - kb for kb in free_kb(d).values()) == 3 * 10000
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("detail") for e in events if e.get("type") == "PC"] == ["(none) -> BaseMail"] * 3
    check_invariants(d.sql)


def test_create_mailbox_for_an_existing_user(d: Deployment) -> None:
    ok(d.submit(create_request("dave")))
    response = ok(d.submit(he("CreateMailbox", path=user_path("dave"), planName="BaseMail")))
    data = response.find("data")
    assert data.findtext("mailStore/mailStoreName") in ("BusinessMailStore1", "BusinessMailStore2")
    assert data.findtext("mail/size") == "10000"
    assert entry(d, "dave")["protocolSettings"] == ["IMAP4§0"]  # BaseMail turns IMAP off
    refused(
        d,
        he("CreateMailbox", path=user_path("dave"), planName="GoldMail"),
        "0x80071392",
        "already has a mailbox",
    )


def create_request(local: str, **mail: object) -> str:
    return he(
        "CreateBusinessUser",
        container=ALPINE,
        userPrincipalName=f"{local}@alpineskihouse.com",
        isAdmin=False,
        **mail,
    )


@pytest.mark.parametrize(
    ("mail", "code", "words"),
    [
        ({"planName": "PlatinumMailPlus"}, "0x80072030", ("'PlatinumMailPlus' is not available",)),
        ({"planName": "NoSuchPlan"}, "0x80072030", ("NoSuchPlan",)),
        ({"alias": "erin"}, "0x80070057", ("'alias' needs 'planName'",)),
        ({"mailStore": RawXml("<mailStoreName>x</mailStoreName>")}, "0x80070057", ("'mailStore' needs",)),
        (
            {"planName": "BaseMail", "proxyAddresses": RawXml("<value>erin@contoso.com</value>")},
            "0x80070057",
            ("'contoso.com' is not a domain of",),
        ),
        (
            {"planName": "BaseMail", "proxyAddresses": RawXml("<value>not an address</value>")},
            "0x80070057",
            ("is not an SMTP address",),
        ),
        (
            {
                "planName": "BaseMail",
                "proxyAddresses": RawXml("<proxyAddress>x@alpineskihouse.com</proxyAddress>"),
            },
            "0x80070057",
            ("may only hold <value>",),
        ),
        ({"planName": "BaseMail", "alias": "bad alias"}, "0x80070057", ("alias",)),
        (
            {
                "planName": "BaseMail",
                "mailStore": RawXml("<serverName>EXBE09</serverName><mailStoreName>Nope</mailStoreName>"),
            },
            "0x80072030",
            ("Nope",),
        ),
        ({"planName": "BaseMail", "mailStore": RawXml("")}, None, ()),
    ],
    ids=[
        "plan-not-available",
        "unknown-plan",
        "alias-without-plan",
        "store-without-plan",
        "foreign-domain",
        "not-an-address",
        "wrong-element",
        "bad-alias",
        "unknown-store",
        "empty-mailStore-is-fine",
    ],
)
def test_bad_mailbox_arguments_change_nothing(
    d: Deployment, mail: dict[str, object], code: str | None, words: tuple[str, ...]
) -> None:
    if code is None:
        ok(d.submit(create_request("erin", **mail)))
        return
    refused(d, create_request("erin", **mail), code, *words)


def test_addresses_are_unique_across_the_system(d: Deployment) -> None:
    ok(d.submit(create_request("frank", planName="BaseMail")))
    extra = RawXml("<value>frank@alpineskihouse.com</value>")
    refused(d, create_request("gina", planName="BaseMail", proxyAddresses=extra), "0x8007202F")
    # once frank's mailbox is gone, his address is free again
    ok(d.submit(he("DeleteMailbox", path=user_path("frank"))))
    ok(d.submit(create_request("gina", planName="BaseMail", proxyAddresses=extra)))


def test_storage_runs_out_cleanly(d: Deployment) -> None:
    # 50 MB (51,200 KB) on each of two stores: two 20,000 KB GoldMail mailboxes fit on each
    for i in range(4):
        ok(d.submit(create_request(f"u{i}", planName="GoldMail")))
    refused(d, create_request("u4", planName="GoldMail"), "0x80070070")
    ok(d.submit(create_request("u4", planName="BaseMail")))  # 10,000 KB still fits
    check_invariants(d.sql)


def test_tight_pack_fills_and_level_spreads(d: Deployment) -> None:
    def used() -> list[int]:
        return sorted(50 * 1024 - kb for kb in free_kb(d).values())

    for i in range(2):  # tightPack (the default): the fullest store that still fits
        ok(d.submit(create_request(f"t{i}", planName="BaseMail")))
    assert used() == [0, 20000]
    for i in range(2):  # level: the emptiest store
        request = create_request(f"l{i}", planName="BaseMail", mailStore=RawXml(""))
        ok(d.submit(request.replace("<mailStore></mailStore>", '<mailStore algorithm="level"/>')))
        # its home is the store the ledger placed it on, not the <mailStore> that was asked for
        allocation = ok(d.submit(rm("QueryMailboxAllocation", mailbox=user_path(f"l{i}"))))
        store, server = (allocation.findtext(f"data/mailStore/{t}") for t in ("mailStoreName", "serverName"))
        assert entry(d, f"l{i}")["homeMDB"][0].startswith(f"CN={store},CN=First Storage Group,")
        assert entry(d, f"l{i}")["msExchHomeServerName"][0].endswith(f"/cn={server}")
    assert used() == [20000, 20000]


def test_change_plan_resizes_and_restamps(d: Deployment) -> None:
    ok(d.submit(create_request("hal", planName="BaseMail")))
    assert entry(d, "hal")["protocolSettings"] == ["IMAP4§0"]
    before = sum(free_kb(d).values())
    response = ok(d.submit(he("ChangeUserMailboxPlan", path=user_path("hal"), planName="GoldMail")))
    assert response.findtext("data/mail/size") == "20000"
    attrs = entry(d, "hal")
    assert attrs["mDBStorageQuota"] == ["20000"]
    assert "protocolSettings" not in attrs  # IMAP is back on
    assert sum(free_kb(d).values()) == before - 10000
    allocation = ok(d.submit(rm("QueryMailboxAllocation", mailbox=user_path("hal"))))
    assert allocation.findtext("data/mailStore/kilobytes") == "20000"
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("detail") for e in events if e.get("type") == "PC"] == [
        "(none) -> BaseMail",
        "BaseMail -> GoldMail",
    ]
    refused(
        d,
        he("ChangeUserMailboxPlan", path=user_path("hal"), planName="PlatinumMailPlus"),
        "0x80072030",
        "not available",
    )
    check_invariants(d.sql)


def test_change_plan_that_does_not_fit_where_the_mailbox_is(d: Deployment) -> None:
    ok(
        d.submit(
            create_request(
                "ida",
                planName="GoldMail",
                mailStore=RawXml(
                    "<serverName>EXBE01</serverName><mailStoreName>BusinessMailStore1</mailStoreName>"
                ),
            )
        )
    )
    ok(
        d.submit(
            create_request(
                "jon",
                planName="GoldMail",
                mailStore=RawXml(
                    "<serverName>EXBE01</serverName><mailStoreName>BusinessMailStore1</mailStoreName>"
                ),
            )
        )
    )
    ok(
        d.submit(
            he(
                "AddAvailablePlans",
                path=ALPINE,
                availablePlans=RawXml("<planName>PlatinumMailPlus</planName>"),
            )
        )
    )
    refused(
        d,
        he("ChangeUserMailboxPlan", path=user_path("ida"), planName="PlatinumMailPlus"),
        "0x80070070",
        "BusinessMailStore1",
    )


def test_delete_mailbox_returns_space_and_takes_the_attributes_off(d: Deployment) -> None:
    before = free_kb(d)
    ok(d.submit(create_request("kim", planName="GoldMail")))
    ok(d.submit(he("DeleteMailbox", path=user_path("kim"))))
    assert free_kb(d) == before
    attrs = entry(d, "kim")
    for gone in ("mail", "proxyAddresses", "homeMDB", "msExchMailboxFolderSet", "showInAddressBook"):
        assert gone not in attrs
    refused(d, he("DeleteMailbox", path=user_path("kim")), "0x80072030", "has no mailbox")
    # and it can get a mailbox again
    ok(d.submit(he("CreateMailbox", path=user_path("kim"), planName="BaseMail")))


def test_delete_user_returns_its_space(d: Deployment) -> None:
    before = free_kb(d)
    ok(d.submit(create_request("lee", planName="GoldMail")))
    ok(d.submit(he("DeleteBusinessUser", path=user_path("lee"))))
    assert free_kb(d) == before
    check_invariants(d.sql)


def test_proxy_addresses_without_a_plan_are_ignored_as_documented(d: Deployment) -> None:
    # reference §2.5: "ignored without planName"; the user is made, no address is written
    extra = RawXml("<value>sales@alpineskihouse.com</value><value>not an address</value>")
    response = ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="ivy@alpineskihouse.com",
                isAdmin=False,
                proxyAddresses=extra,
            )
        )
    )
    assert response.find("data/user") is not None
    attrs = entry(d, "ivy")
    assert "proxyAddresses" not in attrs and "mail" not in attrs
    # the address is still free: another user's mailbox may take it
    ok(
        d.submit(
            create_request(
                "joe", planName="BaseMail", proxyAddresses=RawXml("<value>sales@alpineskihouse.com</value>")
            )
        )
    )
    check_invariants(d.sql)


def test_a_business_user_gets_no_consumer_mailbox(d: Deployment) -> None:
    ok(d.submit(create_request("max")))
    refused(
        d,
        he("CreateMailbox", path=user_path("max"), planName="ConsumerMail", customerTypeName="ConsumerUser"),
        "0x80131509",
        "is a BusinessUser",
    )
    refused(
        d,
        he("CreateMailbox", path=user_path("max"), planName="BaseMail", customerTypeName="Robot"),
        "0x80070057",
        "'customerTypeName' must be",
    )
