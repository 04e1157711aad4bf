"""Names that cross tenants (issue 18): every path that can claim a domain, by every persona.

A domain is held by one organization however it holds it (SMTP domain, UPN suffix, SIP domain);
the provider's own name (fabrikam.com) is no tenant's, a name below it needs the provider's consent
(the hosting organization's OrgCreators, Domain Admins); a name new to the deployment needs the
OrgCreator role on the organization that gets it.  A refusal changes nothing and never names the
organization that holds the name.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openmps.directory.interface import Change
from openmps.namespaces.managed_ocs.common import SIP_ADDRESS
from openmps.namespaces.managed_ocs.sip_users import ENABLED
from openmps.types import DN
from openmps.web.app import create_app
from support import (
    USER_PASSWORD,
    AsgiClient,
    RawXml,
    World,
    he,
    mail_stores,
    ok,
    org_path,
    request_xml,
    rm,
    snapshot,
)

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
WH = org_path("WH")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
CONSUMER = f"LDAP://CN=cons@alpineskihouse.com,{ALPINE[7:]}"
MOVED = org_path("WH", "movedco")
MANAGED = "Managed Office Communications Server"
HOSTED = "Hosted Office Communications Server"
# held by another tenant: contoso (same reseller) as SMTP and SIP, fourthcoffee (R2) as SMTP
OTHERS = ("contoso.com", "im.contoso.example", "fourthcoffee.com")
DENIED, HIDDEN, IN_USE = "0x80070005", "0x80072030", "0x8007202F"


@pytest.fixture
def world(world: World) -> World:
    d = world.deployment
    ok(d.submit(request_xml(HOSTED, "Initialize")))
    ok(d.submit(request_xml(MANAGED, "AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    for org in (ALPINE, CONTOSO):
        ok(d.submit(he("AddAvailablePlans", path=org, availablePlans=RawXml("<planName>BasicIM</planName>"))))
    ok(d.submit(request_xml(MANAGED, "CreateSipDomain", organization=CONTOSO, address="im.contoso.example")))
    return world


def refused_as(
    world: World,
    persona: str,
    document: str,
    code: str,
    fragment: str = "",
    holders: tuple[str, ...] = ("OU=contoso", "OU=fourthcoffee", "OU=R2"),
) -> str:
    """The request fails with ``code`` and changes nothing; its description, which never names
    the organizations that hold the names (``holders``)."""
    before = snapshot(world.deployment)
    outcome = world.submit(document, persona)
    assert outcome.error is not None, f"{persona} was allowed: {document}"
    assert outcome.error.hex_code == code, (persona, outcome.error)
    assert fragment in outcome.error.description, outcome.error.description
    for holder in holders:
        assert holder not in outcome.error.description
    assert snapshot(world.deployment) == before
    return outcome.error.description


def allowed_as(world: World, persona: str, document: str) -> None:
    ok(world.submit(document, persona))


def refusals_of_an_org_creator(world: World, persona: str, make: Callable[[str], str]) -> None:
    """What an OrgCreator that is not the provider is told, for each kind of name it may not have;
    ``make`` builds the request claiming a domain."""
    for provider in ("fabrikam.com", "FABRIKAM.com"):
        refused_as(world, persona, make(provider), IN_USE, "is the provider's own")
    refused_as(world, persona, make("im.fabrikam.com"), DENIED, "below the provider's domain 'fabrikam.com'")
    for domain in OTHERS:
        refused_as(world, persona, make(domain), IN_USE, f"the domain '{domain}' is already in use")


@pytest.mark.parametrize("namespace", [MANAGED, HOSTED])
def test_sip_domains_are_the_organizations_own_or_claimed_by_its_org_creators(
    world: World, namespace: str
) -> None:
    def sip(domain: str, org: str = ALPINE) -> str:
        return request_xml(namespace, "CreateSipDomain", organization=org, address=domain)

    # a customer's admin gets its own domains only; whatever else it names (the provider's,
    # another tenant's, a free one) it is told the same thing, so it learns nothing
    answers = {
        domain: refused_as(world, "customer_admin", sip(domain), DENIED, "needs the OrgCreator role")
        for domain in ("fabrikam.com", "im.fabrikam.com", *OTHERS, "unused.example")
    }
    assert len({text.replace(domain, "D") for domain, text in answers.items()}) == 1
    refused_as(world, "reseller_csr", sip("unused.example"), DENIED, "needs the OrgCreator role")
    # another tenant cannot take alpineskihouse.com first and lock its owner out
    lock_out = sip("alpineskihouse.com", CONTOSO)
    refused_as(world, "other_customer_admin", lock_out, DENIED, holders=("OU=alpineskihouse",))
    allowed_as(world, "customer_admin", sip("alpineskihouse.com"))
    # the reseller's admins claim new names, not the provider's nor another tenant's
    refusals_of_an_org_creator(world, "reseller_admin", sip)
    allowed_as(world, "reseller_admin", sip("im.alpine.example"))
    allowed_as(world, "reseller_admin", sip("wh-im.example", WH))  # the reseller's own (Parent)
    allowed_as(world, "hosting_admin", sip("im.fabrikam.com"))  # the provider's consent
    refused_as(world, "domain_admin", sip("fabrikam.com"), IN_USE, "is the provider's own")
    # the URI of a user follows its organization's SIP domains
    uri = "sip:administrator@fabrikam.com"
    managed_user = request_xml(MANAGED, "CreateSipUser", user=WORKER, enabled=True, primaryURI=uri)
    refused_as(world, "customer_admin", managed_user, "0x80131509", "does not belong")
    hosted_user = request_xml(HOSTED, "CreateSipUser", user=WORKER, planName="BasicIM", primaryURI=uri)
    refused_as(world, "customer_admin", hosted_user, "0x80131509", "does not belong")


@pytest.fixture
def with_bare_ou(world: World) -> World:
    """An OU a migration tool left under WH, holding bare.example as its UPN suffix."""
    with world.deployment.transaction() as providers:
        attrs = {
            "objectClass": ["top", "organizationalUnit"],
            "ou": ["bare"],
            "uPNSuffixes": ["bare.example"],
        }
        providers.directory.add(DN.from_path(org_path("WH", "bare")), attrs)
    return world


def test_smtp_domains(with_bare_ou: World) -> None:
    world = with_bare_ou

    def add(domain: str) -> str:
        return he("CreateSMTPDomain", path=ALPINE, SMTPDomain=domain)

    for domain in ("fabrikam.com", *OTHERS, "unused.example"):
        refused_as(world, "customer_admin", add(domain), DENIED, "OrgCreator")
    refusals_of_an_org_creator(world, "reseller_admin", add)
    refused_as(world, "reseller_admin", add("bare.example"), IN_USE, "already in use")  # a UPN suffix
    allowed_as(world, "reseller_admin", add("unused.example"))
    allowed_as(world, "hosting_admin", add("mail.fabrikam.com"))
    refused_as(world, "domain_admin", add("fabrikam.com"), IN_USE, "is the provider's own")


def test_business_organizations(world: World) -> None:
    def create(domain: str) -> str:
        return he("CreateBusinessOrganization", container=WH, name="newco", SMTPDomain=domain)

    for domain in ("fabrikam.com", *OTHERS, "unused.example"):
        refused_as(world, "customer_admin", create(domain), HIDDEN)
    refusals_of_an_org_creator(world, "reseller_admin", create)
    allowed_as(world, "hosting_admin", create("newco.fabrikam.com"))
    ok(world.submit(he("DeleteBusinessOrganization", path=org_path("WH", "newco"))))
    allowed_as(world, "reseller_admin", create("unused.example"))


@pytest.fixture
def with_consumer(world: World) -> World:
    """cons@alpineskihouse.com, a consumer with a mailbox: what a vanity domain is given to."""
    d = world.deployment
    ok(d.submit(rm("AddExchangeResources", consumerMailStores=mail_stores(("EXC01", "C1", 100, True)))))
    consumer = {"userPrincipalName": "cons@alpineskihouse.com", "sAMAccountName": "c_cons"}
    ok(d.submit(he("CreateConsumerUser", container=ALPINE, planName="ConsumerMail", **consumer)))
    return world


def test_vanity_domains_need_the_role_that_adding_a_domain_needs(with_consumer: World) -> None:
    world = with_consumer

    def vanity(domain: str) -> str:
        return he("CreateConsumerVanityDomain", path=CONSUMER, name="me", SMTPDomain=domain)

    for domain in ("fabrikam.com", *OTHERS, "unused.example"):
        refused_as(world, "customer_admin", vanity(domain), DENIED, "OrgCreator")
    refused_as(world, "reseller_csr", vanity("unused.example"), DENIED, "OrgCreator")
    # the customer's admin tried unused.example: the reseller still has it to give
    allowed_as(
        world,
        "reseller_admin",
        he("CreateBusinessOrganization", container=WH, name="newco", SMTPDomain="unused.example"),
    )
    refusals_of_an_org_creator(world, "reseller_admin", vanity)
    allowed_as(world, "reseller_admin", vanity("me.example"))
    response = ok(world.submit(he("GetBusinessUser", path=CONSUMER)))
    assert "me@me.example" in {v.text for v in response.iter("value")}


def _move_ou(world: World, suffix: str) -> None:
    """An OU a migration tool put under WH with ``suffix`` as its UPN suffix (replacing the last)."""
    dn = DN.from_path(MOVED)
    with world.deployment.transaction() as providers:
        if providers.directory.exists(dn):
            providers.directory.modify(dn, [Change.replace("uPNSuffixes", suffix)])
        else:
            attrs = {"objectClass": ["top", "organizationalUnit"], "ou": ["movedco"], "uPNSuffixes": [suffix]}
            providers.directory.add(dn, attrs)


IMPORTS = {
    "EnableOrganizationForHosting": request_xml("MPS Import", "EnableOrganizationForHosting", path=MOVED),
    "ImportOrganization": request_xml("MPS Import", "ImportOrganization", path=MOVED),
    "ImportBusinessOrganization": request_xml(
        "Hosted Active Directory Import", "ImportBusinessOrganization", organization=MOVED
    ),
}


@pytest.mark.parametrize("procedure", list(IMPORTS))
def test_imports_take_no_ones_domain(world: World, procedure: str) -> None:
    document = IMPORTS[procedure]
    for suffix in ("fabrikam.com", *OTHERS):
        _move_ou(world, suffix)
        refused_as(world, "customer_admin", document, DENIED, "Not Domain Administrator")
        refused_as(world, "reseller_admin", document, DENIED, "Not Domain Administrator")
        want = "is the provider's own" if suffix == "fabrikam.com" else "already in use"
        refused_as(world, "domain_admin", document, IN_USE, want)
    _move_ou(world, "moved.example")
    allowed_as(world, "domain_admin", document)
    if procedure != "EnableOrganizationForHosting":
        domains = ok(world.submit(he("GetSMTPDomains", path=MOVED))).findall("data/SMTPDomains/domain")
        assert [d.get("name") for d in domains] == ["moved.example"]


def test_a_sip_user_on_a_name_claimed_before_the_rule_cannot_be_enabled_again(world: World) -> None:
    """State left by the attack before this fix: alpine holding fabrikam.com as a SIP domain and a
    disabled user on it.  The provider's name is nobody's SIP domain, so the user stays off."""
    d = world.deployment
    ok(d.submit(request_xml(HOSTED, "CreateSipDomain", organization=ALPINE, address="alpineskihouse.com")))
    user = request_xml(
        HOSTED, "CreateSipUser", user=WORKER, planName="BasicIM", primaryURI="sip:worker@alpineskihouse.com"
    )
    ok(d.submit(user))
    with d.transaction() as providers:
        container = DN.from_path(ALPINE).child("CN", "_Private").child("CN", "SIPDomains")
        attrs = {
            "objectClass": ["top", "leaf", "serviceConnectionPoint"],
            "cn": ["fabrikam.com"],
            "serviceClassName": ["RTC SIP Domain"],
            "serviceDNSName": ["fabrikam.com"],
        }
        providers.directory.add(container.child("CN", "fabrikam.com"), attrs)
        changes = [
            Change.replace(SIP_ADDRESS, "sip:administrator@fabrikam.com"),
            Change.replace(ENABLED, "FALSE"),
        ]
        providers.directory.modify(DN.from_path(WORKER), changes)
    listed = ok(world.submit(request_xml(MANAGED, "GetSipDomainsByOrganization", organization=ALPINE)))
    assert "fabrikam.com" not in {e.get("name") for e in listed.iter("sipDomain")}
    check = request_xml(MANAGED, "ValidateSipDomainOwnership", organization=ALPINE, address="fabrikam.com")
    refused_as(world, "customer_admin", check, "0x80131509", "does not belong")
    enable = request_xml(MANAGED, "SetSipUserProperties", user=WORKER, enabled=True)
    refused_as(world, "customer_admin", enable, "0x80131509", "'fabrikam.com' does not belong")
    refused_as(world, "customer_admin", request_xml(HOSTED, "EnableSipUser", user=WORKER), "0x80131509")
    # a new address on its own domain is fine
    move = request_xml(
        MANAGED, "SetSipUserProperties", user=WORKER, enabled=True, primaryURI="sip:w@alpineskihouse.com"
    )
    allowed_as(world, "customer_admin", move)


def test_the_role_test_is_no_procedure_of_the_api(world: World) -> None:
    document = he("TestOrgCreator_", path=ALPINE)
    refused_as(world, "customer_admin", document, "0x80070032", "unknown procedure")
    refused_as(world, "domain_admin", document, "0x80070032", "unknown procedure")


def test_the_attack_over_http(with_consumer: World) -> None:
    """The issue's report, as it was sent: a customer's admin takes the provider's SIP domain and
    makes itself sip:administrator@fabrikam.com, then claims a free name as a vanity domain."""
    world = with_consumer
    client = AsgiClient(create_app(world.deployment))
    boss = ("boss@alpineskihouse.com", USER_PASSWORD)

    def post(document: str) -> int:
        response = client.post(
            "/provisioning", content=document.encode(), auth=boss, headers={"content-type": "text/xml"}
        )
        return response.status_code

    assert post(request_xml(MANAGED, "CreateSipDomain", organization=ALPINE, address="fabrikam.com")) == 403
    uri = "sip:administrator@fabrikam.com"
    assert post(request_xml(MANAGED, "CreateSipUser", user=WORKER, enabled=True, primaryURI=uri)) == 409
    assert post(request_xml(MANAGED, "CreateSipDomain", organization=ALPINE, address="contoso.com")) == 403
    assert post(he("CreateConsumerVanityDomain", path=CONSUMER, name="me", SMTPDomain="free.example")) == 403
    create = he("CreateBusinessOrganization", container=WH, name="newco", SMTPDomain="free.example")
    ok(world.submit(create, "reseller_admin"))


def test_the_hosting_organizations_suffixes_are_the_providers_names_too(world: World) -> None:
    with world.deployment.transaction() as providers:
        providers.directory.modify(providers.layout.hosting, [Change.add("uPNSuffixes", "hoster.example")])

    def create(domain: str) -> str:
        return he("CreateBusinessOrganization", container=WH, name="newco", SMTPDomain=domain)

    refused_as(world, "reseller_admin", create("Hoster.example"), IN_USE, "is the provider's own")
    refused_as(world, "reseller_admin", create("mail.hoster.example"), DENIED, "'hoster.example'")
    refused_as(world, "domain_admin", create("hoster.example"), IN_USE, "is the provider's own")
    allowed_as(world, "hosting_admin", create("mail.hoster.example"))
