"""SMTP domains: one organization per domain, the primary/secondary/vanity rules, use checks."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import RawXml, World, he, make_alpineskihouse, ok, org_path, refused, snapshot

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")


def domains(d: Deployment | World, path: str = ALPINE) -> dict[str, str]:
    response = ok(d.submit(he("GetSMTPDomains", path=path)))
    return {e.get("name"): e.get("type") for e in response.findall("data/SMTPDomains/domain")}


def events(d: Deployment) -> list[tuple[str, str]]:
    response = ok(d.submit(he("GetBillableEvents", path=ALPINE)))
    return [
        (e.get("type"), e.get("detail"))
        for e in response.findall("data/events/event")
        if e.get("type") in ("AA", "AD", "CM")
    ]


def add(path: str, domain: str, kind: str | None = None) -> str:
    return he("CreateSMTPDomain", path=path, SMTPDomain=domain, domainTypeName=kind)


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    return deployment


def test_secondary_primary_swap_and_vanity(d: Deployment) -> None:
    assert domains(d) == {"alpineskihouse.com": "PrimaryDomain"}
    response = ok(d.submit(add(ALPINE, "Alpine.Example")))
    assert response.find("data/domain").get("type") == "SecondaryDomain"
    assert domains(d) == {"alpineskihouse.com": "PrimaryDomain", "alpine.example": "SecondaryDomain"}
    # an existing secondary made primary: swapped
    ok(d.submit(add(ALPINE, "alpine.example", "PrimaryDomain")))
    assert domains(d) == {"alpineskihouse.com": "SecondaryDomain", "alpine.example": "PrimaryDomain"}
    # a new primary: the old one is demoted
    ok(d.submit(add(ALPINE, "ski.example", "primarydomain")))
    assert domains(d) == {
        "alpineskihouse.com": "SecondaryDomain",
        "alpine.example": "SecondaryDomain",
        "ski.example": "PrimaryDomain",
    }
    # the primary again: nothing changes
    before = snapshot(d)
    ok(d.submit(add(ALPINE, "ski.example", "PrimaryDomain")))
    assert snapshot(d) == before
    ok(d.submit(add(ALPINE, "alpine.example", "VanityDomain")))
    assert domains(d)["alpine.example"] == "VanityDomain"
    assert events(d) == [
        ("AA", "PrimaryDomain alpineskihouse.com"),
        ("AA", "SecondaryDomain alpine.example"),
        ("CM", "SecondaryDomain alpineskihouse.com (was PrimaryDomain)"),
        ("CM", "PrimaryDomain alpine.example (was SecondaryDomain)"),
        ("CM", "SecondaryDomain alpine.example (was PrimaryDomain)"),
        ("AA", "PrimaryDomain ski.example"),
        ("CM", "VanityDomain alpine.example (was SecondaryDomain)"),
    ]


def test_new_domains_take_users_and_new_mailboxes_use_the_primary(d: Deployment) -> None:
    ok(d.submit(add(ALPINE, "ski.example", "PrimaryDomain")))
    response = ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="zoe@alpineskihouse.com",
                isAdmin=False,
                planName="BaseMail",
                proxyAddresses=RawXml("<value>zoe@alpineskihouse.com</value>"),
            )
        )
    )
    addresses = [v.text for v in response.findall("data/proxyAddresses")[-1]]
    assert addresses == ["zoe@ski.example", "zoe@alpineskihouse.com"]
    ok(
        d.submit(
            he("CreateBusinessUser", container=ALPINE, userPrincipalName="yan@ski.example", isAdmin=False)
        )
    )


def test_a_domain_belongs_to_one_organization(d: Deployment) -> None:
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="contoso",
                SMTPDomain="contoso.com",
            )
        )
    )
    refused(d, add(ALPINE, "contoso.com"), "0x8007202F", "already in use")
    refused(d, add(ALPINE, "CONTOSO.COM", "PrimaryDomain"), "0x8007202F", "already in use")
    refused(
        d,
        he("CreateBusinessOrganization", container=org_path("WH"), name="c2", SMTPDomain="Contoso.com"),
        "0x8007202F",
    )
    # another tenant's domain looks like no domain at all
    refused(d, he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="contoso.com"), "0x80072030", "not a domain of")


@pytest.mark.parametrize(
    ("request_xml", "code", "words"),
    [
        (add(ALPINE, "10.0.0.1"), "0x80070057", ("not a valid DNS domain name",)),
        (add(ALPINE, "bad domain.com"), "0x80070057", ("not a valid DNS domain name",)),
        (add(ALPINE, "x.example", "GoldDomain"), "0x80070057", ("'domainTypeName' must be one of",)),
        (add(ALPINE, "alpineskihouse.com", "VanityDomain"), "0x80131509", ("is the primary domain",)),
        (
            he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="alpineskihouse.com"),
            "0x80131509",
            ("make another domain primary first",),
        ),
        (
            he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="nowhere.example"),
            "0x80072030",
            ("not a domain of",),
        ),
        (add(org_path("WH"), "x.example"), "0x80070057", ("not a customer organization",)),
    ],
    ids=["ip", "space", "type", "retype-primary", "delete-primary", "delete-unknown", "reseller"],
)
def test_bad_domain_requests_change_nothing(
    d: Deployment, request_xml: str, code: str, words: tuple[str, ...]
) -> None:
    refused(d, request_xml, code, *words)


def test_delete_refused_while_in_use(d: Deployment) -> None:
    ok(d.submit(add(ALPINE, "alpine.example")))
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="amy@alpineskihouse.com",
                isAdmin=False,
                planName="BaseMail",
                proxyAddresses=RawXml("<value>amy@alpine.example</value>"),
            )
        )
    )
    refused(d, he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="alpine.example"), "0x80072015", "amy@")
    ok(d.submit(he("DeleteMailbox", path=f"LDAP://CN=amy@alpineskihouse.com,{ALPINE[7:]}")))
    ok(d.submit(he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="Alpine.Example")))
    assert domains(d) == {"alpineskihouse.com": "PrimaryDomain"}
    refused(
        d,
        he("CreateBusinessUser", container=ALPINE, userPrincipalName="bo@alpine.example", isAdmin=False),
        "0x80070057",
        "not a domain of",
    )
    assert events(d)[-1] == ("AD", "SecondaryDomain alpine.example")


def test_delete_organization_with_recipient_policies(deployment: Deployment) -> None:
    make_alpineskihouse(deployment)
    ok(deployment.submit(add(ALPINE, "alpine.example")))
    refused(
        deployment,
        he("DeleteBusinessOrganization", path=ALPINE, deleteSMTPDomain=True, SMTPDomain="other.example"),
        "0x80070057",
        "not a domain of",
    )
    ok(deployment.submit(he("DeleteBusinessOrganization", path=ALPINE, deleteSMTPDomain=True)))
    # the domains are free again
    ok(
        deployment.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="again",
                SMTPDomain="alpine.example",
            )
        )
    )
