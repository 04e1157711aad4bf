"""The Exchange Resource Manager procedures through the engine: registration, organization and
mailbox allocation, all-or-nothing, hostile inputs, and the invariants after every step."""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.app import Deployment
from support import (
    RawXml,
    World,
    check_invariants,
    he,
    mail_stores,
    ok,
    org_path,
    refused,
    request_xml,
    rm,
)

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
WORKER = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
BOSS = "LDAP://CN=boss@alpineskihouse.com," + ALPINE[len("LDAP://") :]


def invariants(d: Deployment) -> None:
    check_invariants(d.sql)


@pytest.fixture
def stocked(world: World) -> World:
    ok(
        world.submit(
            rm(
                "AddExchangeResources",
                mailStores=mail_stores(
                    ("EXBE01", "MS1", 1000, True),
                    ("EXBE01", "MS2", 500, True),
                    ("EXBE02", "DEDICATED", 300, False),
                ),
                publicStores=RawXml(
                    "<publicStore><serverName>EXBE02</serverName><megabytes>2000</megabytes></publicStore>"
                ),
                frontEndServers=RawXml("<frontEndServer><serverName>EXFE01</serverName></frontEndServer>"),
            )
        )
    )
    return world


def allocate_org(
    world: World, org: str, mb: int, shared: bool = True, algorithm: str = "tightPack"
) -> etree._Element:
    body = f"<megabytes>{mb}</megabytes><shared>{int(shared)}</shared>"
    document = rm("AllocateOrganization", organization=org, mailStore=RawXml(body)).replace(
        "<mailStore>", f'<mailStore algorithm="{algorithm}">'
    )
    return ok(world.submit(document))


def test_registration_and_listing(stocked: World) -> None:
    resources = ok(stocked.submit(rm("GetExchangeResources"))).find("data/resources")
    mail = {e.findtext("mailStoreName"): e for e in resources.findall("mailStore")}
    assert mail["MS1"].findtext("megabytes") == "1000" and mail["MS1"].findtext("freeMegabytes") == "1000"
    assert mail["DEDICATED"].findtext("shared") == "0"
    assert resources.find("publicStore").findtext("publicStoreName") == "Public Folder Store (EXBE02)"
    assert resources.findtext("frontEndServers/frontEndServer/serverName") == "EXFE01"
    # also answered under the "Ex" name, as MPS does
    ok(stocked.submit(request_xml("Exchange Resource Manager Ex", "GetExchangeResources")))


def test_organization_then_mailboxes(stocked: World) -> None:
    pieces = allocate_org(stocked, ALPINE, 1200).findall("data/sourceMailStores/sourceMailStore")
    assert [(p.findtext("mailStoreName"), p.findtext("megabytes")) for p in pieces] == [
        ("MS2", "500"),
        ("MS1", "700"),
    ]
    placed = ok(stocked.submit(rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=20000)))
    assert placed.findtext("data/mailStore/mailStoreName") in ("MS1", "MS2")
    query = ok(stocked.submit(rm("QueryMailboxAllocation", mailbox=WORKER)))
    assert query.findtext("data/mailStore/kilobytes") == "20000"
    invariants(stocked.deployment)
    refused(stocked, rm("DeallocateOrganization", organization=ALPINE), "0x80072015", "still has mailboxes")
    ok(stocked.submit(rm("DeallocateMailbox", mailbox=WORKER)))
    released = ok(stocked.submit(rm("DeallocateOrganization", organization=ALPINE)))
    assert released.findtext("data/released/megabytes") == "1200"
    invariants(stocked.deployment)
    free = ok(stocked.submit(rm("GetExchangeResources"))).findall("data/resources/mailStore")
    assert all(e.findtext("allocatedMegabytes") == "0" for e in free)


def test_unshared_store_serves_one_organization(stocked: World) -> None:
    allocate_org(stocked, ALPINE, 100, shared=False)
    body = "<megabytes>100</megabytes><shared>0</shared>"
    refused(
        stocked,
        rm("AllocateOrganization", organization=CONTOSO, mailStore=RawXml(body)),
        "0x80070070",
        "unshared",
    )
    invariants(stocked.deployment)


def test_explicit_stores_are_all_or_nothing(stocked: World) -> None:
    sources = (
        "<sourceMailStores>"
        "<sourceMailStore><serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName><megabytes>200</megabytes></sourceMailStore>"
        "<sourceMailStore><serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName><megabytes>900</megabytes></sourceMailStore>"
        "</sourceMailStores>"
    )
    refused(stocked, rm("AllocateOrganization", organization=ALPINE, mailStore=RawXml(sources)), "0x80070070")
    missing = sources.replace("MS2", "NOPE")
    refused(
        stocked,
        rm("AllocateOrganization", organization=ALPINE, mailStore=RawXml(missing)),
        "0x80072030",
        "NOPE",
    )


def test_a_named_mailbox_store_needs_the_organizations_space(stocked: World) -> None:
    allocate_org(stocked, ALPINE, 100, algorithm="minStoreCount")  # all on MS1, the emptiest
    named = RawXml("<serverName>EXBE01</serverName><mailStoreName>MS2</mailStoreName>")
    refused(
        stocked,
        rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=1000, mailStore=named),
        "0x80070057",
        "no space on 'MS2'",
    )
    too_big = rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=200 * 1024)
    refused(stocked, too_big, "0x80070070", "no store with 204800 KB free")


@pytest.mark.parametrize(
    ("document", "code", "fragment"),
    [
        (
            rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 10, True))),
            "0x80071392",
            "already registered",
        ),
        (
            rm(
                "AddExchangeResources",
                mailStores=RawXml(
                    "<mailStore><serverName>X</serverName><mailStoreName>N</mailStoreName><megabytes>-5</megabytes></mailStore>"
                ),
            ),
            "0x80070057",
            "mailStore/megabytes",
        ),
        (
            rm(
                "AddExchangeResources",
                mailStores=RawXml(
                    "<mailStore><serverName>X</serverName><mailStoreName>N</mailStoreName><megabytes>99999999999999</megabytes></mailStore>"
                ),
            ),
            "0x80070057",
            "mailStore/megabytes",
        ),
        (
            rm(
                "AddExchangeResources",
                mailStores=RawXml(
                    "<mailStore><serverName>X</serverName><megabytes>5</megabytes></mailStore>"
                ),
            ),
            "0x80070057",
            "mailStore/mailStoreName",
        ),
        (rm("AddExchangeResources", mailStores=RawXml("<disk/>")), "0x80070057", "<disk>"),
        (rm("AddExchangeResources"), "0x80070057", "nothing to add"),
        (rm("ModifyResources", mailStoreName="NOPE", megabytes=10), "0x80072030", "NOPE"),
        (rm("RemoveExchangeResources", mailStoreName="MS1", storeType="tape"), "0x80070057", "storeType"),
        (
            rm("AllocateOrganization", organization=ALPINE, mailStore=RawXml("<megabytes>0</megabytes>")),
            "0x80070057",
            "megabytes",
        ),
        (
            rm(
                "AllocateOrganization",
                organization=org_path("WH"),
                mailStore=RawXml("<megabytes>5</megabytes>"),
            ),
            "0x80070057",
            "reseller organization",
        ),
        (
            rm("AllocateMailbox", organization=ALPINE, mailbox=CONTOSO, kilobytes=10),
            "0x80070057",
            "not a user of",
        ),
        (
            rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=-1),
            "0x80070057",
            "'kilobytes'",
        ),
        (
            rm("AddExchangeResources", mailStores=mail_stores(("EXBE09", "MS\u202e9", 10, True))),
            "0x80070057",
            "'mailStore/mailStoreName' must not contain the invisible formatting character U+202E",
        ),
        (
            rm("AddExchangeResources", mailStores=mail_stores(("EXBE09", "M" * 257, 10, True))),
            "0x80070057",
            "'mailStore/mailStoreName' must be at most 256 characters",
        ),
        # Python's int() reads all of these: only ASCII digits are numbers here
        (rm("ModifyResources", mailStoreName="MS1", megabytes="1_000"), "0x80070057", "ASCII digits"),
        (
            rm("ModifyResources", mailStoreName="MS1", megabytes="\u0661\u0660\u0660\u0660"),
            "0x80070057",
            "ASCII",
        ),
        (
            rm(
                "AllocateOrganization",
                organization=ALPINE,
                mailStore=RawXml("<megabytes>\u0661\u0660</megabytes>"),
            ),
            "0x80070057",
            "ASCII digits",
        ),
        (
            rm(
                "AllocateOrganization", organization=ALPINE, mailStore=RawXml("<megabytes>\u00b2</megabytes>")
            ),
            "0x80070057",
            "ASCII digits",
        ),
    ],
)
def test_bad_input_changes_nothing(stocked: World, document: str, code: str, fragment: str) -> None:
    refused(stocked, document, code, fragment)


def test_resizing_and_unregistering(stocked: World) -> None:
    allocate_org(stocked, ALPINE, 600, algorithm="minStoreCount")  # MS1 holds 600 MB
    refused(
        stocked, rm("ModifyResources", mailStoreName="MS1", megabytes=500), "0x80070070", "600 MB allocated"
    )
    grown = ok(stocked.submit(rm("ModifyResources", mailStoreName="MS1", megabytes=2000)))
    assert grown.findtext("data/mailStore/freeMegabytes") == "1400"
    refused(stocked, rm("RemoveExchangeResources", mailStoreName="MS1"), "0x80072015", "consumers")
    ok(stocked.submit(rm("RemoveExchangeResources", mailStoreName="MS2")))
    invariants(stocked.deployment)


def test_only_domain_admins(stocked: World) -> None:
    for persona in ("hosting_admin", "reseller_admin", "customer_admin", "user"):
        outcome = stocked.submit(rm("GetExchangeResources"), persona)
        assert outcome.error is not None and outcome.error.hex_code == "0x80070005"


def test_deleting_a_user_and_then_its_organization_returns_the_space(stocked: World) -> None:
    allocate_org(stocked, CONTOSO, 300)
    contoso_boss = "LDAP://CN=boss@contoso.com," + CONTOSO[len("LDAP://") :]
    ok(stocked.submit(rm("AllocateMailbox", organization=CONTOSO, mailbox=contoso_boss, kilobytes=50_000)))
    refused(stocked, he("DeleteBusinessOrganization", path=CONTOSO), "0x80072015", "still has users")
    ok(stocked.submit(he("DeleteBusinessUser", path=contoso_boss)))
    invariants(stocked.deployment)
    assert stocked.submit(rm("QueryMailboxAllocation", mailbox=contoso_boss)).error is not None
    ok(stocked.submit(he("DeleteBusinessOrganization", path=CONTOSO)))
    stores = ok(stocked.submit(rm("GetExchangeResources"))).findall("data/resources/mailStore")
    assert all(s.findtext("allocatedMegabytes") == "0" for s in stores)
    invariants(stocked.deployment)


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"availablePlans": RawXml("<planName>Nope</planName>")}, "0x80072030", "'Nope'"),
        ({"mailStore": RawXml("<megabytes>-1</megabytes>")}, "0x80070057", "mailStore/megabytes"),
        (
            {"mailStore": RawXml("<megabytes>999999</megabytes>")},
            "0x80070070",
            "not enough shared mail storage",
        ),
        (
            {
                "mailStore": RawXml("<megabytes>5</megabytes>"),
                "publicStore": RawXml("<megabytes>x</megabytes>"),
            },
            "0x80070057",
            "publicStore/megabytes",
        ),
        (
            {
                "mailStore": RawXml("<megabytes>5</megabytes>"),
                "publicStore": RawXml(
                    "<megabytes>5</megabytes><sourcePublicStoreServer>NOPE</sourcePublicStoreServer>"
                ),
            },
            "0x80072030",
            "'NOPE'",
        ),
    ],
)
def test_a_failing_exchange_step_undoes_the_whole_organization(
    stocked: World, extra: dict[str, object], code: str, fragment: str
) -> None:
    document = he(
        "CreateBusinessOrganization",
        container=org_path("WH"),
        name="newco",
        SMTPDomain="newco.example",
        **extra,
    )
    refused(stocked, document, code, fragment)


def test_an_exchange_enabled_organization_and_its_deletion(stocked: World) -> None:
    newco = org_path("WH", "newco")
    mail = RawXml("<megabytes>100</megabytes><shared>1</shared>")
    public = RawXml("<megabytes>50</megabytes><sourcePublicStoreServer>EXBE02</sourcePublicStoreServer>")
    plans = RawXml("<planName>GoldMail</planName>")
    ok(
        stocked.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="newco",
                SMTPDomain="newco.example",
                mailStore=mail,
                publicStore=public,
                createSMTPDomain=True,
                availablePlans=plans,
            )
        )
    )
    resources = ok(stocked.submit(rm("GetExchangeResources"))).find("data/resources")
    assert sum(int(e.findtext("allocatedMegabytes")) for e in resources.findall("mailStore")) == 100
    assert resources.find("publicStore").findtext("allocatedMegabytes") == "50"
    invariants(stocked.deployment)
    ok(stocked.submit(he("DeleteBusinessOrganization", path=newco)))
    resources = ok(stocked.submit(rm("GetExchangeResources"))).find("data/resources")
    stores = resources.findall("mailStore") + resources.findall("publicStore")
    assert stores and all(e.findtext("allocatedMegabytes") == "0" for e in stores)
    # the domain is free again
    ok(
        stocked.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="newco2",
                SMTPDomain="newco.example",
            )
        )
    )


def org_stores(response: etree._Element) -> dict[str, int]:
    return {
        s.findtext("mailStoreName"): int(s.findtext("megabytes"))
        for s in response.findall("data/sourceMailStores/sourceMailStore")
    }


def reallocate(org: str, body: str) -> str:
    return rm("ReallocateOrganizationMailNoMove", organization=org, mailStore=RawXml(body))


def test_reallocation_grows_where_the_org_is_and_shrinks_one_store(stocked: World) -> None:
    allocate_org(stocked, ALPINE, 100)  # tightPack: on MS2, the store with less free space
    grown = ok(stocked.submit(reallocate(ALPINE, "<megabytes>50</megabytes>")))
    assert org_stores(grown) == {"MS2": 150}
    shrunk = ok(stocked.submit(reallocate(ALPINE, "<megabytes>-120</megabytes>")))
    assert org_stores(shrunk) == {"MS2": 30}
    # more than MS2 has left: the rest goes elsewhere (fewest stores: the emptiest one)
    spread = ok(stocked.submit(reallocate(ALPINE, "<megabytes>600</megabytes>")))
    assert org_stores(spread) == {"MS2": 30, "MS1": 600}
    invariants(stocked.deployment)
    # two stores now: a decrease must say where
    refused(stocked, reallocate(ALPINE, "<megabytes>-10</megabytes>"), "0x80070057", "sourceMailStores")
    body = (
        '<sourceMailStores><sourceMailStore op="deallocate"><serverName>EXBE01</serverName>'
        "<mailStoreName>MS2</mailStoreName><megabytes>30</megabytes></sourceMailStore>"
        '<sourceMailStore op="allocate"><serverName>EXBE01</serverName>'
        "<mailStoreName>MS1</mailStoreName><megabytes>30</megabytes></sourceMailStore></sourceMailStores>"
    )
    moved = ok(stocked.submit(reallocate(ALPINE, body)))
    assert org_stores(moved) == {"MS1": 630}  # an emptied allocation disappears
    invariants(stocked.deployment)


def test_reallocation_never_takes_space_mailboxes_use(stocked: World) -> None:
    allocate_org(stocked, ALPINE, 10)
    ok(stocked.submit(rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=8 * 1024)))
    refused(stocked, reallocate(ALPINE, "<megabytes>-5</megabytes>"), "0x80070070", "mailboxes use")
    ok(stocked.submit(reallocate(ALPINE, "<megabytes>-2</megabytes>")))
    invariants(stocked.deployment)


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("<megabytes>0</megabytes>", "0x80070057", "non-zero"),
        ("<megabytes>ten</megabytes>", "0x80070057", "non-zero"),
        ("<megabytes>99999999999</megabytes>", "0x80070057", "mailStore/megabytes"),
        ("<megabytes>100000</megabytes>", "0x80070070", "not enough"),
        (
            '<sourceMailStores><sourceMailStore op="steal"><serverName>EXBE01</serverName>'
            "<mailStoreName>MS1</mailStoreName><megabytes>1</megabytes></sourceMailStore></sourceMailStores>",
            "0x80070057",
            "op must be",
        ),
        (
            '<sourceMailStores><sourceMailStore op="deallocate"><serverName>EXBE01</serverName>'
            "<mailStoreName>MS1</mailStoreName><megabytes>1</megabytes></sourceMailStore></sourceMailStores>",
            "0x80072030",
            "holds no space",
        ),
        ("<bogus/>", "0x80070057", "bogus"),
        ("<megabytes>-1_0</megabytes>", "0x80070057", "ASCII digits"),
        ("<megabytes>\u0661\u0660</megabytes>", "0x80070057", "ASCII digits"),
    ],
    ids=[
        "zero",
        "text",
        "huge",
        "too-much",
        "bad-op",
        "not-held",
        "unknown-element",
        "underscore",
        "arabic-indic",
    ],
)
def test_bad_reallocations_change_nothing(stocked: World, body: str, code: str, fragment: str) -> None:
    allocate_org(stocked, ALPINE, 100)
    refused(stocked, reallocate(ALPINE, body), code, fragment)
