"""Exchange Resource Manager Ex ReallocateBusinessMailstoreResource (reference §2.4): a business
store's registered size changed by a relative amount, never below what is allocated on it."""

from __future__ import annotations

import threading

from openmps.app import Deployment
from support import RawXml, World, mail_stores, ok, org_path, refused, request_xml, rm

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
