"""ExchangeEnableOrganization (reference §2.3): an organization created without mail gets its
storage, its primary mail domain and, if asked, its address lists; its users then get mailboxes."""

from __future__ import annotations

from openmps.app import Deployment
from support import RawXml, World, check_invariants, he, mail_stores, ok, org_path, refused, rm

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")


def enable(path: str, domain: str, megabytes: int = 100, **more: object) -> str:
    return he(
        "ExchangeEnableOrganization",
        path=path,
        SMTPDomain=domain,
        mailStore=RawXml(f"<megabytes>{megabytes}</megabytes>"),
        **more,
    )


def domains(d: Deployment | World, path: str) -> dict[str | None, str | None]:
    response = ok(d.submit(he("GetSMTPDomains", path=path)))
    return {e.get("name"): e.get("type") for e in response.iterfind("data/SMTPDomains/domain")}


def test_an_organization_without_mail_is_exchange_enabled(world: World) -> None:
    d = world.deployment
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 150, True)))))
    plan = RawXml("<planName>BaseMail</planName>")
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=plan)))
    user = he(
        "CreateBusinessUser",
        container=ALPINE,
        userPrincipalName="m@alpineskihouse.com",
        isAdmin=False,
        planName="BaseMail",
    )
    assert d.submit(user).error is not None  # no storage yet
    ok(world.submit(enable(ALPINE, "alpineskihouse.com", createAddressLists=True), "reseller_admin"))
    ok(d.submit(user))
    lists = ok(d.submit(he("GetBusinessOrganization", path=ALPINE))).findall(
        "data/org/otherWellKnownObjects/obj"
    )
    assert len(lists) > 5
    check_invariants(d.sql)
    # once enabled it stays so; more storage is ReallocateOrganizationMailNoMove's
    refused(world, enable(ALPINE, "alpineskihouse.com"), "0x80071392", "Exchange-enabled already")
    # a new domain becomes the primary one; the old primary stays as a secondary one
    refused(world, enable(CONTOSO, "mail.contoso.example", megabytes=100), "0x80070070")  # 50 MB left
    assert domains(world, CONTOSO) == {"contoso.com": "PrimaryDomain"}
    ok(world.submit(enable(CONTOSO, "mail.contoso.example", megabytes=50)))
    assert domains(world, CONTOSO) == {
        "mail.contoso.example": "PrimaryDomain",
        "contoso.com": "SecondaryDomain",
    }


def test_only_org_creators_enable_and_bad_input_changes_nothing(world: World) -> None:
    d = world.deployment
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 150, True)))))
    denied = world.submit(enable(ALPINE, "alpineskihouse.com"), "customer_admin")
    assert denied.error is not None and denied.error.hex_code == "0x80070005"
    hidden = world.submit(enable(ALPINE, "alpineskihouse.com"), "other_reseller_admin")
    assert hidden.error is not None and hidden.error.hex_code == "0x80072030"
    refused(world, enable(org_path("WH"), "wh.example"), "0x80070057", "reseller organization")
    refused(world, enable(ALPINE, "fourthcoffee.com"), "0x8007202F")  # another organization's domain
    refused(world, enable(ALPINE, "not a domain"), "0x80070057", "SMTPDomain")
    refused(
        world,
        he("ExchangeEnableOrganization", path=ALPINE, SMTPDomain="alpineskihouse.com"),
        "0x80070057",
        "'mailStore' is required",
    )
    refused(world, enable(ALPINE, "alpineskihouse.com", megabytes=-5), "0x80070057", "megabytes")
