"""Managed Office Communications Server: pools, SIP domains, SIP users, end to end over HTTP.

The role is checked first, then every argument against the caller's organization: a path outside
it, a foreign domain or a URI already taken is refused, and nothing changes.
"""

from __future__ import annotations

import pytest
from lxml import etree

from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    AsgiClient,
    World,
    org_path,
    refused,
    request_xml,
)

NS = "Managed Office Communications Server"
ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
WH = org_path("WH")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
BOSS = f"LDAP://CN=boss@alpineskihouse.com,{ALPINE[7:]}"
CONTOSO_BOSS = f"LDAP://CN=boss@contoso.com,{CONTOSO[7:]}"
ADMIN = ("administrator@fabrikam.com", ADMIN_PASSWORD)
CUSTOMER_ADMIN = ("boss@alpineskihouse.com", USER_PASSWORD)
OTHER_ADMIN = ("boss@contoso.com", USER_PASSWORD)


def ocs(procedure: str, /, **args: object) -> str:
    return request_xml(NS, procedure, **args)


@pytest.fixture
def client(world: World) -> AsgiClient:
    return AsgiClient(create_app(world.deployment))


def post(client: AsgiClient, document: str, auth: tuple[str, str] = ADMIN) -> tuple[int, etree._Element]:
    response = client.post(
        "/provisioning", content=document.encode(), auth=auth, headers={"content-type": "text/xml"}
    )
    return response.status_code, etree.fromstring(response.content)


def good(client: AsgiClient, document: str, auth: tuple[str, str] = ADMIN) -> etree._Element:
    status, response = post(client, document, auth)
    assert status == 200, etree.tostring(response)
    return response


@pytest.fixture
def ready(world: World, client: AsgiClient) -> World:
    good(client, ocs("Initialize"))
    for pool in ("pool1.fabrikam.com", "pool2.fabrikam.com"):
        good(client, ocs("AddSharedPool", poolFQDN=pool))
    good(client, ocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com"), CUSTOMER_ADMIN)
    good(client, ocs("CreateSipDomain", organization=WH, address="wh-im.example"))
    return world


def test_pools(world: World, client: AsgiClient) -> None:
    good(client, ocs("Initialize"))
    good(client, ocs("Initialize"))  # idempotent
    good(client, ocs("AddSharedPool", poolFQDN="Pool1.Fabrikam.com"))
    good(client, ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com"))  # idempotent
    good(client, ocs("RemoveSharedPool", poolFQDN="pool1.fabrikam.com"))
    pools = good(client, ocs("GetPools")).findall("data/pools/poolFQDN")
    assert [(p.text, p.get("status")) for p in pools] == [("pool1.fabrikam.com", "Unavailable")]
    good(client, ocs("DeleteSharedPool", poolFQDN="pool1.fabrikam.com"))
    good(client, ocs("DeleteSharedPool", poolFQDN="pool1.fabrikam.com"))  # missing is fine
    assert good(client, ocs("GetPools")).findall("data/pools/poolFQDN") == []
    status, _ = post(client, ocs("AddSharedPool", poolFQDN="10.1.1.1"))
    assert status == 400
    status, _ = post(client, ocs("GetPools"), CUSTOMER_ADMIN)
    assert status == 403  # Domain Admins only


def test_sip_domains(ready: World, client: AsgiClient) -> None:
    domains = good(client, ocs("GetSipDomainsByOrganization", organization=ALPINE), CUSTOMER_ADMIN)
    assert {(d.get("name"), d.get("owner")) for d in domains.findall("data/sipDomains/sipDomain")} == {
        ("alpineskihouse.com", "Tenant"),
        ("wh-im.example", "Parent"),
    }
    owner = good(client, ocs("ValidateSipDomainOwnership", organization=ALPINE, address="WH-IM.example."))
    assert owner.findtext("data/owner") == "Parent"
    status, response = post(
        client, ocs("ValidateSipDomainOwnership", organization=CONTOSO, address="alpineskihouse.com")
    )
    error = response.find("errorContext")
    assert status == 409 and error.get("code") == "0x80131509"
    assert "SIP domain 'alpineskihouse.com' does not belong to" in error.get("description")
    # one organization per domain, whatever the case
    refused(
        ready,
        ocs("CreateSipDomain", organization=CONTOSO, address="AlpineSkiHouse.COM"),
        "0x8007202F",
        "already in use",
    )
    # a customer cannot delete its reseller's domain
    refused(
        ready,
        ocs("DeleteSipDomain", organization=ALPINE, address="wh-im.example"),
        "0x80131509",
        "does not belong",
    )


@pytest.mark.parametrize(
    ("document", "persona", "code", "words"),
    [
        (
            ocs("CreateSipDomain", organization=ALPINE, address="192.168.1.1"),
            "customer_admin",
            "0x80070057",
            ("not a fully qualified",),
        ),
        (
            ocs("CreateSipDomain", organization=ALPINE, address="bad domain"),
            "customer_admin",
            "0x80070057",
            ("not a fully qualified",),
        ),
        (
            ocs("CreateSipDomain", organization=CONTOSO, address="x.example"),
            "customer_admin",
            "0x80072030",
            (),
        ),
        (ocs("CreateSipDomain", organization=ALPINE, address="x.example"), "user", "0x80070005", ()),
        (
            ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="worker@alpineskihouse.com"),
            "customer_admin",
            "0x80070057",
            ("must start with 'sip:'",),
        ),
        (
            ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="sip:worker@contoso.com"),
            "customer_admin",
            "0x80131509",
            ("does not belong",),
        ),
        (
            ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="sip:worker@10.0.0.1"),
            "customer_admin",
            "0x80070057",
            ("is not sip:user@domain",),
        ),
        (
            ocs("CreateSipUser", user=CONTOSO_BOSS, enabled=True, primaryURI="sip:boss@alpineskihouse.com"),
            "customer_admin",
            "0x80072030",
            (),
        ),
        (
            ocs(
                "CreateSipUser",
                user=WORKER,
                enabled=True,
                primaryURI="sip:w@alpineskihouse.com",
                poolFQDN="nopool.example",
            ),
            "customer_admin",
            "0x80072030",
            ("nopool.example",),
        ),
        (
            ocs(
                "CreateSipUser",
                user=f"LDAP://CN=Admins@alpineskihouse,{ALPINE[7:]}",
                enabled=True,
                primaryURI="sip:a@alpineskihouse.com",
            ),
            "customer_admin",
            "0x80070057",
            ("not a user",),
        ),
        (
            ocs("CreateSipDomain", organization=ALPINE, address="x.example)(cn=*"),
            "customer_admin",
            "0x80070057",
            ("not a fully qualified",),
        ),
        (
            ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="sip:w*)(cn=*@alpineskihouse.com"),
            "customer_admin",
            "0x80070057",
            ("is not sip:user@domain",),
        ),
        (
            ocs(
                "CreateSipUser",
                user=f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]},OU=x",
                enabled=True,
                primaryURI="sip:w@alpineskihouse.com",
            ),
            "customer_admin",
            "0x80072030",
            (),
        ),
    ],
    ids=[
        "ip",
        "space",
        "other-tenant-org",
        "plain-user",
        "no-sip-prefix",
        "foreign-domain",
        "ip-uri",
        "other-tenant-user",
        "unknown-pool",
        "group",
        "filter-in-domain",
        "filter-in-uri",
        "path-outside",
    ],
)
def test_hostile_requests_change_nothing(
    ready: World, document: str, persona: str, code: str, words: tuple[str, ...]
) -> None:
    from support import snapshot

    before = snapshot(ready.deployment)
    outcome = ready.submit(document, persona)
    assert outcome.error is not None and outcome.error.hex_code == code, outcome.error
    for word in words:
        assert word in outcome.error.description
    assert snapshot(ready.deployment) == before


def test_sip_users(ready: World, client: AsgiClient) -> None:
    created = good(
        client,
        ocs(
            "CreateSipUser",
            user=WORKER,
            enabled=True,
            primaryURI="sip:Worker@AlpineSkiHouse.com",
            enabledForFederation=True,
            publicNetworkEnabled=True,
        ),
        CUSTOMER_ADMIN,
    )
    user = created.find("data/sipUser")
    assert user.findtext("primaryURI") == "sip:Worker@alpineskihouse.com"
    assert user.findtext("enabled") == "1" and user.findtext("enabledForFederation") == "1"
    assert user.findtext("publicNetworkEnabled") == "1"
    for off in (
        "enabledForEnhancedPresence",
        "enabledForInternetAccess",
        "allowOrganizeMeetingWithAnonymousParticipants",
    ):
        assert user.findtext(off) == "0"  # every option defaults to false
    first_pool = user.findtext("homeServerDN")
    assert first_pool.startswith("CN=pool1.fabrikam.com")
    # the next user goes to the least loaded pool; a URI on the reseller's domain is fine
    second = good(
        client,
        ocs("CreateSipUser", user=BOSS, enabled=False, primaryURI="sip:boss@wh-im.example"),
        CUSTOMER_ADMIN,
    )
    assert second.findtext("data/sipUser/homeServerDN").startswith("CN=pool2.fabrikam.com")
    # a URI is unique, whatever the case
    refused(
        ready,
        ocs("SetSipUserProperties", user=BOSS, primaryURI="sip:WORKER@alpineskihouse.com"),
        "0x8007202F",
        "already in use",
    )
    changed = good(
        client,
        ocs(
            "SetSipUserProperties",
            user=WORKER,
            enabledForEnhancedPresence=True,
            publicNetworkEnabled=False,
            meetingPolicy="Default",
        ),
        CUSTOMER_ADMIN,
    )
    props = changed.find("data/sipUser")
    assert (
        props.findtext("enabledForEnhancedPresence") == "1" and props.findtext("publicNetworkEnabled") == "0"
    )
    assert props.findtext("enabledForFederation") == "1"  # untouched
    assert props.findtext("meetingPolicy") == "Default"
    # the user reads its own properties; another tenant cannot even see them
    read = good(
        client, ocs("GetSipUserProperties", user=WORKER), ("worker@alpineskihouse.com", USER_PASSWORD)
    )
    assert read.findtext("data/sipUser/instanceID").startswith("{")
    status, _ = post(client, ocs("GetSipUserProperties", user=WORKER), OTHER_ADMIN)
    assert status == 404
    # a domain in use cannot go; a pool with users cannot go
    refused(
        ready, ocs("DeleteSipDomain", organization=WH, address="wh-im.example"), "0x80072015", "still used"
    )
    refused(ready, ocs("DeleteSharedPool", poolFQDN="pool1.fabrikam.com"), "0x80072015", "homed")
    good(client, ocs("DeleteSipUser", user=BOSS), CUSTOMER_ADMIN)
    good(client, ocs("DeleteSipDomain", organization=WH, address="wh-im.example"))
    # deleting the user frees its URI
    good(client, request_xml("Hosted Exchange", "DeleteBusinessUser", path=WORKER), CUSTOMER_ADMIN)
    good(
        client,
        ocs("CreateSipUser", user=BOSS, enabled=True, primaryURI="sip:worker@alpineskihouse.com"),
        CUSTOMER_ADMIN,
    )


def test_no_pool_no_sip_user(world: World, client: AsgiClient) -> None:
    good(client, ocs("CreateSipDomain", organization=ALPINE, address="alpineskihouse.com"))
    refused(
        world,
        ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="sip:w@alpineskihouse.com"),
        "0x80131509",
        "no shared pool",
    )
    good(client, ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com"))
    good(client, ocs("RemoveSharedPool", poolFQDN="pool1.fabrikam.com"))
    refused(
        world,
        ocs("CreateSipUser", user=WORKER, enabled=True, primaryURI="sip:w@alpineskihouse.com"),
        "0x80131509",
        "no shared pool",
    )
    refused(
        world,
        ocs(
            "CreateSipUser",
            user=WORKER,
            enabled=True,
            primaryURI="sip:w@alpineskihouse.com",
            poolFQDN="pool1.fabrikam.com",
        ),
        "0x80131509",
        "not available",
    )


def test_deleting_an_organization_frees_its_sip_domains(world: World, client: AsgiClient) -> None:
    good(
        client,
        request_xml(
            "Hosted Exchange",
            "CreateBusinessOrganization",
            container=WH,
            name="emptyco",
            SMTPDomain="empty.example",
        ),
    )
    emptyco = org_path("WH", "emptyco")
    good(client, ocs("CreateSipDomain", organization=emptyco, address="im.empty.example"))
    good(client, request_xml("Hosted Exchange", "DeleteBusinessOrganization", path=emptyco))
    good(client, ocs("CreateSipDomain", organization=ALPINE, address="im.empty.example"))
