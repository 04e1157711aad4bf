"""Exchange Resource Manager Ex ReallocateBusinessMailstoreResource (reference §2.4): a business
store's registered size changed by a relative amount, never below what is allocated on it."""

from __future__ import annotations

import threading

from openmps.app import Deployment
from openmps.types import DN
from support import (
    RawXml,
    World,
    he,
    mail_stores,
    make_alpineskihouse,
    ok,
    org_path,
    refused,
    request_xml,
    rm,
)

ALPINE = org_path("WH", "alpineskihouse")


def ex(procedure: str, /, **args: object) -> str:
    return request_xml("Exchange Resource Manager Ex", procedure, **args)


def size(d: Deployment, name: str = "MS1") -> tuple[int, int]:
    response = ok(d.submit(rm("GetExchangeResources")))
    store = next(
        s for s in response.iterfind("data/resources/mailStore") if s.findtext("mailStoreName") == name
    )
    return int(store.findtext("megabytes") or 0), int(store.findtext("allocatedMegabytes") or 0)


def test_a_store_grows_and_shrinks_by_an_amount(world: World) -> None:
    d = world.deployment
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 100, True)))))
    ok(
        d.submit(
            rm("AllocateOrganization", organization=ALPINE, mailStore=RawXml("<megabytes>60</megabytes>"))
        )
    )
    resized = ok(d.submit(ex("ReallocateBusinessMailstoreResource", mailStoreName="MS1", megabytes=50)))
    assert resized.findtext("data/mailStore/megabytes") == "150"
    refused(
        world,
        ex("ReallocateBusinessMailstoreResource", mailStoreName="MS1", megabytes=-91),
        "0x80070070",
        "60 MB allocated",
    )
    ok(
        d.submit(
            ex("ReallocateBusinessMailstoreResource", mailStoreName="ms1", megabytes=-90, serverName="exbe01")
        )
    )
    assert size(d) == (60, 60)
    for bad, code, fragment in (
        ({"megabytes": 0}, "0x80070057", "'megabytes' must be a change"),
        ({"megabytes": "ten"}, "0x80070057", "'megabytes' must be an integer"),
        ({"megabytes": 5, "serverName": "EXBE02"}, "0x80070057", "is on EXBE01, not EXBE02"),
        ({"megabytes": -60}, "0x80070070", "cannot change by -60 MB"),
        ({"megabytes": 1 << 31}, "0x80070057", "'megabytes' must be a change"),
    ):
        refused(world, ex("ReallocateBusinessMailstoreResource", mailStoreName="MS1", **bad), code, fragment)
    refused(
        world, ex("ReallocateBusinessMailstoreResource", mailStoreName="NoSuch", megabytes=5), "0x80072030"
    )
    # documented under the Ex name only
    refused(world, rm("ReallocateBusinessMailstoreResource", mailStoreName="MS1", megabytes=5), "0x80070032")
    denied = world.submit(
        ex("ReallocateBusinessMailstoreResource", mailStoreName="MS1", megabytes=5), "hosting_admin"
    )
    assert denied.error is not None and denied.error.hex_code == "0x80070005"


def test_concurrent_changes_are_never_lost(world: World) -> None:
    d = world.deployment
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 100, True)))))
    admin = world.callers["domain_admin"]
    assert admin is not None
    outcomes = []

    def grow() -> None:
        outcomes.append(
            d.submit(ex("ReallocateBusinessMailstoreResource", mailStoreName="MS1", megabytes=10), admin)
        )

    threads = [threading.Thread(target=grow) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(o.ok for o in outcomes)
    assert size(d) == (160, 0)


def user(d: Deployment, name: str, store: str) -> str:
    server = {"BusinessMailStore1": "EXBE01", "BusinessMailStore2": "EXBE02"}[store]
    where = RawXml(f"<serverName>{server}</serverName><mailStoreName>{store}</mailStoreName>")
    created = ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName=f"{name}@alpineskihouse.com",
                isAdmin=False,
                planName="GoldMail",
                mailStore=where,
            )
        )
    )
    return created.findtext("data/user/path") or f"LDAP://CN={name}@alpineskihouse.com,{ALPINE[7:]}"


def home(d: Deployment, path: str) -> tuple[str, str]:
    with d.transaction() as providers:
        entry = providers.directory.get(DN.from_path(path))
        return entry.first("homeMDB") or "", entry.first("msExchHomeServerName") or ""


def moving(*targets: str, **more: object) -> str:
    stores = RawXml(
        "".join(f"<targetMailStore><mailStoreName>{t}</mailStoreName></targetMailStore>" for t in targets)
    )
    args: dict[str, object] = {
        "mailStoreName": "BusinessMailStore1",
        "organization": ALPINE,
        "targetMailStores": stores,
    }
    return ex("ReallocateBusinessMailstoreResource", **{**args, **more})


def test_an_organizations_mailboxes_move_to_other_stores_with_their_space(deployment: Deployment) -> None:
    d = deployment
    make_alpineskihouse(d, exchange=True)  # 50 MB on each of BusinessMailStore1 and 2
    stores = mail_stores(
        ("EXBE03", "MS3", 30, True), ("EXBE04", "MS4", 100, True), ("EXBE05", "Tiny", 10, True)
    )
    ok(d.submit(rm("AddExchangeResources", mailStores=stores)))
    ann, bob = user(d, "ann", "BusinessMailStore1"), user(d, "bob", "BusinessMailStore1")  # 20,000 KB each
    cid = user(d, "cid", "BusinessMailStore2")
    # refused whole: Tiny holds neither mailbox, and nothing moved
    refused(d, moving("Tiny"), "0x80070070", "lack room", "nothing was moved")
    for bad, code, fragment in (
        ({"megabytes": 5}, "0x80070057", "give one"),
        ({"targetMailStores": RawXml("")}, "0x80070057", "names no store"),
        (
            {
                "targetMailStores": RawXml(
                    "<targetMailStore><mailStoreName>BusinessMailStore1</mailStoreName></targetMailStore>"
                )
            },
            "0x80070057",
            "as the source store",
        ),
        (
            {
                "targetMailStores": RawXml(
                    "<targetMailStore><mailStoreName>MS3</mailStoreName><serverName>EXBE09</serverName></targetMailStore>"
                )
            },
            "0x80070057",
            "is on EXBE03, not EXBE09",
        ),
        (
            {
                "targetMailStores": RawXml(
                    "<targetMailStore><mailStoreName>NoSuch</mailStoreName></targetMailStore>"
                )
            },
            "0x80072030",
            "'NoSuch'",
        ),
        ({"organization": org_path("WH")}, "0x80070057", "business"),
    ):
        refused(d, moving(*([] if "targetMailStores" in bad else ["MS3"]), **bad), code, fragment)
    refused(
        d,
        ex(
            "ReallocateBusinessMailstoreResource",
            mailStoreName="MS3",
            targetMailStores=RawXml("<targetMailStore><mailStoreName>MS4</mailStoreName></targetMailStore>"),
        ),
        "0x80070057",
        "needs 'organization'",
    )

    # MS3 (30 MB) takes one of them, MS4 the other: the first target with room, largest first
    answer = ok(d.submit(moving("MS3", "MS4")))
    moved = {
        m.get("path"): m.findtext("mailStoreName") for m in answer.iterfind("data/movedMailboxes/mailbox")
    }
    assert sorted(moved.values()) == ["MS3", "MS4"]
    assert {DN.from_path(p) for p in moved} == {DN.from_path(ann), DN.from_path(bob)}  # as the server spells
    for path, store in moved.items():
        mdb, server = home(d, path)
        mdb = mdb.casefold()  # a DN, as the server spells it
        assert mdb.startswith(f"cn={store.casefold()},") and f"cn=exbe0{store[-1]}," in mdb
        assert server.endswith(f"/cn=EXBE0{store[-1]}")
        placed = ok(d.submit(rm("QueryMailboxAllocation", mailbox=path)))
        assert placed.findtext("data/mailStore/mailStoreName") == store
    assert home(d, cid)[0].casefold().startswith("cn=businessmailstore2,")  # another store's mailbox stays
    shares = {
        s.findtext("mailStoreName"): (s.findtext("megabytes"), s.findtext("usedKilobytes"))
        for s in answer.iterfind("data/sourceMailStores/sourceMailStore")
    }
    # 40,000 KB given back on BusinessMailStore1 (50 MB → 10 MB, rounded down), 20,000 KB on each target
    assert shares["BusinessMailStore1"] == ("10", "0") and shares["MS3"] == ("19", "20000")
    assert shares["MS4"] == ("19", "20000") and shares["BusinessMailStore2"] == ("50", "20000")
    assert size(d, "MS3") == (30, 19) and size(d, "BusinessMailStore1") == (1000, 10)
    # nothing left to move: an empty move answers the storage
    again = ok(d.submit(moving("MS4")))
    assert again.find("data/movedMailboxes/mailbox") is None
