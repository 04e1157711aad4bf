"""Public folders: storage on one public store, the organization's own groups only, space returned."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from openmps.types import DN
from support import HOSTING, RawXml, he, make_alpineskihouse, ok, org_path, refused, rm

ALPINE = org_path("WH", "alpineskihouse")
PUBLIC = RawXml(
    "<publicStore><serverName>EXPF01</serverName><megabytes>500</megabytes></publicStore>"
    "<publicStore><serverName>EXPF02</serverName><megabytes>300</megabytes></publicStore>"
)


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment)
    ok(deployment.submit(rm("AddExchangeResources", publicStores=PUBLIC)))
    return deployment


def public_allocated(d: Deployment) -> dict[str, int]:
    resources = ok(d.submit(rm("GetExchangeResources"))).find("data/resources")
    return {
        e.findtext("publicStoreName"): int(e.findtext("allocatedMegabytes"))
        for e in resources.findall("publicStore")
    }


def folders(d: Deployment) -> dict[str, tuple[str, int]]:
    response = ok(d.submit(he("GetPublicFolders", path=ALPINE)))
    return {
        f.get("name"): (f.findtext("serverName"), int(f.findtext("megabytes")))
        for f in response.findall("data/publicFolders/publicFolder")
    }


def test_create_list_and_delete(d: Deployment) -> None:
    response = ok(
        d.submit(he("CreatePublicFolder", path=ALPINE, megabytes=100, SMTPDomain="alpineskihouse.com"))
    )
    folder = response.find("data/publicFolder")
    assert folder.get("name") == "alpineskihouse"
    assert folder.findtext("serverName") == "EXPF01"  # the store with the most room
    ok(d.submit(he("CreatePublicFolder", path=ALPINE, megabytes=50, name="Sales", serverName="EXPF02")))
    assert folders(d) == {"alpineskihouse": ("EXPF01", 100), "Sales": ("EXPF02", 50)}
    assert public_allocated(d) == {"Public Folder Store (EXPF01)": 100, "Public Folder Store (EXPF02)": 50}
    # only the organization's own groups are in the folder's DACL
    with d.transaction() as providers:
        org = DN.from_path(ALPINE)
        entry = providers.directory.get(folder_dn("Sales"))
        trustees = {ace.trustee for ace in providers.directory.dacl_of(entry).aces}
        groups = {
            providers.directory.get(dn).sid
            for dn in (
                org.child("CN", "Admins@alpineskihouse"),
                org.child("CN", "_Private").child("CN", "AllUsers@alpineskihouse"),
            )
        }
        assert trustees == groups
    ok(d.submit(he("DeletePublicFolder", path=ALPINE, name="Sales")))
    ok(d.submit(he("DeletePublicFolder", path=ALPINE)))
    assert folders(d) == {}
    assert set(public_allocated(d).values()) == {0}
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("type") for e in events if e.get("type") in ("PF", "FD")] == ["PF", "PF", "FD", "FD"]


def folder_dn(name: str) -> DN:
    return DN.from_path(ALPINE).child("CN", "_Private").child("CN", "Public Folders").child("CN", name)


@pytest.mark.parametrize(
    ("request_xml", "code", "words"),
    [
        (he("CreatePublicFolder", path=ALPINE, megabytes=600), "0x80070070", ("no public store has 600 MB",)),
        (he("CreatePublicFolder", path=ALPINE, megabytes=0), "0x80070057", ("megabytes",)),
        (he("CreatePublicFolder", path=ALPINE, megabytes=-5), "0x80070057", ("megabytes",)),
        (he("CreatePublicFolder", path=ALPINE, megabytes=10, serverName="EXNONE"), "0x80072030", ("EXNONE",)),
        (
            he("CreatePublicFolder", path=ALPINE, megabytes=10, SMTPDomain="contoso.com"),
            "0x80070057",
            ("not a domain of",),
        ),
        (he("CreatePublicFolder", path=ALPINE, megabytes=10, name=" x"), "0x80070057", ("name",)),
        (he("DeletePublicFolder", path=ALPINE, name="Nope"), "0x80072030", ("no public folder 'Nope'",)),
        (he("CreatePublicFolder", path=org_path("WH"), megabytes=10), "0x80070057", ("not a customer",)),
    ],
    ids=[
        "too-big",
        "zero",
        "negative",
        "unknown-server",
        "foreign-domain",
        "bad-name",
        "unknown-folder",
        "reseller",
    ],
)
def test_bad_requests_change_nothing(
    d: Deployment, request_xml: str, code: str, words: tuple[str, ...]
) -> None:
    refused(d, request_xml, code, *words)


def test_same_name_twice(d: Deployment) -> None:
    ok(d.submit(he("CreatePublicFolder", path=ALPINE, megabytes=10)))
    refused(d, he("CreatePublicFolder", path=ALPINE, megabytes=10), "0x80071392", "already exists")


def test_organization_created_with_a_public_store_gets_its_folder(deployment: Deployment) -> None:
    d = deployment
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    stores = RawXml(
        "<mailStore><serverName>EXBE01</serverName><mailStoreName>MS1</mailStoreName>"
        "<megabytes>1000</megabytes><shared>1</shared></mailStore>"
    )
    ok(d.submit(rm("AddExchangeResources", mailStores=stores, publicStores=PUBLIC)))
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="alpineskihouse",
                SMTPDomain="alpineskihouse.com",
                mailStore=RawXml("<megabytes>100</megabytes>"),
                publicStore=RawXml(
                    "<megabytes>200</megabytes><sourcePublicStoreServer>EXPF02</sourcePublicStoreServer>"
                ),
            )
        )
    )
    assert folders(d) == {"alpineskihouse": ("EXPF02", 200)}
    ok(d.submit(he("DeleteBusinessOrganization", path=ALPINE)))
    assert set(public_allocated(d).values()) == {0}
