"""Hosted Email 2007 Import: a migrated organization's mailboxes, domains and address book."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from openmps.types import DN
from support import (
    STORE_DN,
    RawXml,
    he,
    make_alpineskihouse,
    migrated_user,
    ok,
    org_path,
    refused,
    request_xml,
    rm,
    snapshot,
)

ALPINE = org_path("WH", "alpineskihouse")


def kit(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Email 2007 Import", procedure, **args)


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    return deployment


def test_a_mailbox_is_registered_and_stamped_once(d: Deployment) -> None:
    bob = migrated_user(d, "bob", "bob@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["5000"])
    got = ok(d.submit(kit("ImportMailbox", user=bob, planName="GoldMail")))
    assert got.findtext("data/mailStore/mailStoreName") == "BusinessMailStore1"
    assert got.find("data/properties") is not None  # the plan was stamped
    placed = ok(d.submit(rm("QueryMailboxAllocation", mailbox=bob)))
    assert placed.findtext("data/mailStore/kilobytes") == "20000"  # GoldMail's size
    refused(d, kit("ImportMailbox", user=bob, planName="GoldMail"), "0x80071392", "allocation already")
    # linked only: registered with its own size, the plan recorded, nothing stamped
    carl = migrated_user(d, "carl", "carl@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["3000"])
    ok(d.submit(kit("ImportMailbox", user=carl, planName="GoldMail", applyPlanSettings=False)))
    assert (
        ok(d.submit(rm("QueryMailboxAllocation", mailbox=carl))).findtext("data/mailStore/kilobytes")
        == "3000"
    )
    with d.transaction() as providers:
        entry = providers.directory.get(DN.from_path(carl))
        assert not entry.get("msExchQueryBaseDN")
        assert providers.plans.customer_plan(entry.guid, "ExchMailbox")[1] == "GoldMail"


@pytest.mark.parametrize(
    ("attrs", "plan", "code", "fragment"),
    [
        ({}, "GoldMail", "0x80070057", "no mailbox (homeMDB)"),
        ({"homeMDB": [STORE_DN], "mDBOverQuotaLimit": ["10"]}, "NoSuchPlan", "0x80072030", "NoSuchPlan"),
        ({"homeMDB": [STORE_DN], "mDBOverQuotaLimit": ["10"]}, "ConsumerMail", "0x80072030", "not available"),
        (
            {"homeMDB": [STORE_DN.replace("BusinessMailStore1", "Unknown")], "mDBOverQuotaLimit": ["10"]},
            "GoldMail",
            "0x80072030",
            "",
        ),
    ],
)
def test_bad_mailboxes_are_refused_and_change_nothing(
    d: Deployment, attrs: dict[str, list[str]], plan: str, code: str, fragment: str
) -> None:
    user = migrated_user(d, "dan", "dan@alpineskihouse.com", **attrs)
    refused(d, kit("ImportMailbox", user=user, planName=plan), code, fragment)


def test_domains_and_address_book_of_a_migrated_organization(d: Deployment) -> None:
    migrated_user(
        d,
        "eve",
        "eve@alpineskihouse.com",
        proxyAddresses=["SMTP:eve@alpineskihouse.com", "smtp:eve@old-alpine.example", "X500:/o=x"],
    )
    got = ok(d.submit(kit("ImportSmtpDomains", organization=ALPINE)))
    assert [e.text for e in got.iterfind("data/SMTPDomains/SMTPDomain")] == [
        "alpineskihouse.com PrimaryDomain",
        "old-alpine.example SecondaryDomain",
    ]
    ok(d.submit(kit("ImportSmtpDomains", organization=ALPINE)))  # safe to repeat
    migrated_user(d, "fay", "fay@alpineskihouse.com", proxyAddresses=["smtp:fay@fabrikam.com"])
    refused(d, kit("ImportSmtpDomains", organization=ALPINE), "0x8007202F", "provider")
    refused(d, kit("ImportSmtpDomains", organization=org_path("WH")), "0x80070057", "reseller")
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="gus@alpineskihouse.com",
                isAdmin=False,
                planName="BaseMail",
            )
        )
    )
    lists = ok(d.submit(kit("ImportOfflineAddressBook", organization=ALPINE)))
    paths = [e.text for e in lists.iterfind("data/addressLists/addressList")]
    assert len(paths) == 3 and any("alpineskihouse OAL" in p for p in paths)
    with d.transaction() as providers:
        gus = providers.directory.get(DN.from_path(f"LDAP://CN=gus@alpineskihouse.com,{ALPINE[7:]}"))
        assert gus.get("msExchUseOAB")


PUBLIC_STORE = "CN=Public Folder Store (EXBE03),CN=First Storage Group,CN=InformationStore,CN=EXBE03"


def migrated_folder(d: Deployment, name: str, kilobytes: str) -> str:
    dn = DN.from_path(ALPINE).child("CN", "_Private").child("CN", "Public Folders").child("CN", name)
    with d.transaction() as providers:
        providers.directory.ensure_containers(dn.parent, below=DN.from_path(ALPINE))
        attrs = {
            "objectClass": ["top", "publicFolder"],
            "cn": [name],
            "homeMDB": [PUBLIC_STORE],
            "mDBStorageQuota": [kilobytes],
            "nTSecurityDescriptor": ["D:(A;;RP;;;WD)"],  # Everyone: what MPS removes
        }
        providers.directory.add(dn, attrs)
    return dn.ldap_path


def public_space(d: Deployment) -> tuple[int, int]:
    response = ok(d.submit(rm("GetExchangeResources")))
    store = response.find("data/resources/publicStore")
    assert store is not None
    return int(store.findtext("megabytes") or 0), int(store.findtext("allocatedMegabytes") or 0)


def test_a_migrated_root_public_folder_is_adopted(d: Deployment) -> None:
    public = RawXml("<publicStore><serverName>EXBE03</serverName><megabytes>100</megabytes></publicStore>")
    ok(d.submit(rm("AddExchangeResources", publicStores=public)))
    refused(d, kit("ImportRootPublicFolder", organization=ALPINE), "0x80072030", "no public folder")
    path = migrated_folder(d, "alpineskihouse", str(20 * 1024))
    got = ok(d.submit(kit("ImportRootPublicFolder", organization=ALPINE)))
    assert got.find("data/publicFolder").get("path") == path
    assert got.findtext("data/publicFolder/megabytes") == "20"
    assert public_space(d) == (100, 20)
    before = snapshot(d)
    ok(d.submit(kit("ImportRootPublicFolder", organization=ALPINE)))  # nothing more to give
    assert snapshot(d) == before
    folders = ok(d.submit(he("GetPublicFolders", path=ALPINE))).findall("data/publicFolders/publicFolder")
    assert [f.get("name") for f in folders] == ["alpineskihouse"]
    with d.transaction() as providers:
        sddl = providers.directory.get(DN.from_path(path)).first("nTSecurityDescriptor")
    assert ";;;WD)" not in sddl and "S-1-1-0" not in sddl  # the organization's own groups only
    assert sddl.count("(A;") == 2
    migrated_folder(d, "Big", str(90 * 1024))
    refused(d, kit("ImportRootPublicFolder", organization=ALPINE, name="Big"), "0x80070070")  # 80 MB left
