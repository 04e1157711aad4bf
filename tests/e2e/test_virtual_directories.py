"""EnsureExchangeVirtualDirectories: an organization's /exchange/<domain> on every Exchange server,
recorded in the directory, kept right when servers or the primary domain change, gone with it."""

from __future__ import annotations

from openmps.directory import filters
from openmps.directory.interface import Scope
from openmps.types import DN
from support import RawXml, World, he, mail_stores, ok, org_path, refused, rm

ALPINE = org_path("WH", "alpineskihouse")
EMPTY = org_path("R2", "fourthcoffee")  # no users


def ensure(
    world: World, path: str = ALPINE, persona: str = "domain_admin"
) -> list[tuple[str | None, str | None]]:
    response = ok(world.submit(he("EnsureExchangeVirtualDirectories", path=path), persona))
    return sorted(
        (v.get("serverName"), v.get("path"))
        for v in response.iterfind("data/virtualDirectories/virtualDirectory")
    )


def recorded(world: World) -> int:
    with world.deployment.transaction() as providers:
        base = DN.parse("CN=Configuration,DC=fabrikam,DC=com")
        if not providers.directory.exists(base):
            return 0
        found = providers.directory.search(
            base, Scope.SUBTREE, filters.eq("serviceClassName", "HTTP Virtual Directory")
        )
        return len(found)


def test_one_directory_per_server_kept_right(world: World) -> None:
    refused(world, he("EnsureExchangeVirtualDirectories", path=ALPINE), "0x80131509", "no Exchange server")
    ok(
        world.submit(
            rm(
                "AddExchangeResources",
                mailStores=mail_stores(("EXBE01", "MS1", 100, True)),
                frontEndServers=RawXml("<frontEndServer><serverName>EXFE01</serverName></frontEndServer>"),
            )
        )
    )
    assert ensure(world, persona="reseller_admin") == [
        ("EXBE01", "/exchange/alpineskihouse.com"),
        ("EXFE01", "/exchange/alpineskihouse.com"),
    ]
    before = recorded(world)
    assert ensure(world) == [
        ("EXBE01", "/exchange/alpineskihouse.com"),
        ("EXFE01", "/exchange/alpineskihouse.com"),
    ]
    assert recorded(world) == before == 2  # idempotent
    ok(world.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE02", "MS2", 100, True)))))
    ok(
        world.submit(
            he("CreateSMTPDomain", path=ALPINE, SMTPDomain="ski.example", domainTypeName="PrimaryDomain")
        )
    )
    assert ensure(world) == [
        ("EXBE01", "/exchange/ski.example"),
        ("EXBE02", "/exchange/ski.example"),
        ("EXFE01", "/exchange/ski.example"),
    ]
    assert recorded(world) == 3  # the former domain's are gone
    ensure(world, EMPTY)
    assert recorded(world) == 6
    ok(world.submit(he("DeleteBusinessOrganization", path=EMPTY)))
    assert recorded(world) == 3  # gone with their organization


def test_only_org_creators_and_business_organizations(world: World) -> None:
    ok(world.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 100, True)))))
    denied = world.submit(he("EnsureExchangeVirtualDirectories", path=ALPINE), "customer_admin")
    assert denied.error is not None and denied.error.hex_code == "0x80070005"
    refused(world, he("EnsureExchangeVirtualDirectories", path=org_path("WH")), "0x80070057", "reseller")
