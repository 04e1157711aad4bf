"""The seed documents' sample requests, verbatim, over HTTP against the ASGI app.

They run as they are, on a deployment with mail stores registered, and answer in the documented
shapes; without the storage or plans they ask for, they are refused whole.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from openmps.app import Deployment
from openmps.web.app import create_app
from support import (
    ADMIN_PASSWORD,
    HOSTING,
    AsgiClient,
    RawXml,
    he,
    mail_stores,
    make_alpineskihouse,
    ok,
    org_path,
    rm,
    snapshot,
)

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "seeds"
EXCHANGE_ONLY = ("mailStore", "publicStore", "createSMTPDomain", "availablePlans", "planName")
AUTH = ("administrator@fabrikam.com", ADMIN_PASSWORD)


def seed(name: str) -> str:
    return (SEEDS / name).read_text()


def without_exchange(document: str) -> str:
    root = etree.fromstring(document.encode())
    for tag in EXCHANGE_ONLY:
        for element in root.iter(tag):
            element.getparent().remove(element)
    return etree.tostring(root).decode()


@pytest.fixture
def client(deployment: Deployment) -> AsgiClient:
    return AsgiClient(create_app(deployment))


def post(
    client: AsgiClient, document: str, auth: tuple[str, str] | None = AUTH
) -> tuple[int, etree._Element]:
    response = client.post(
        "/provisioning", content=document.encode(), auth=auth, headers={"content-type": "text/xml"}
    )
    assert response.headers["content-type"].startswith("text/xml")
    return response.status_code, etree.fromstring(response.content)


@pytest.mark.skipif(not SHARED.exists(), reason="the shared seed documents are not beside this checkout")
def test_committed_seed_requests_are_verbatim_copies() -> None:
    texts = "".join(p.read_text() for p in sorted(SHARED.glob("00*.txt")))
    for path in sorted(SEEDS.glob("*.xml")):
        assert path.read_text() in texts, path.name


STORES = mail_stores(
    ("EXBE01", "BusinessMailstore3", 2000, True),
    ("EXBE02", "BusinessMailstore1", 2000, True),
    ("EXBE02", "BusinessMailstore2", 2000, True),
)
PUBLIC = RawXml("<publicStore><serverName>EXBE02</serverName><megabytes>5000</megabytes></publicStore>")


@pytest.mark.parametrize("name", ["002-request-1.xml", "002-request-2.xml"])
def test_seed_002_verbatim_without_storage_is_refused_whole(
    client: AsgiClient, deployment: Deployment, name: str
) -> None:
    ok(deployment.submit(he("CreateResellerOrganization", container=HOSTING, name="Reseller1")))
    status, response = post(client, seed(name))
    error = response.find("errorContext")
    assert status in (404, 409) and error is not None  # no stores registered: no storage to give
    frames = [(s.get("namespace"), s.get("procedure")) for s in error.findall("errorSource")]
    assert frames[0][0] == "Exchange Resource Manager" and frames[-1] == (
        "Hosted Exchange",
        "CreateBusinessOrganization",
    )
    status, response = post(
        client, he("GetBusinessOrganization", path=org_path("Reseller1", "alpineskihouse"))
    )
    assert status == 404  # nothing was created: no org, no allocation


@pytest.mark.parametrize(
    ("name", "mail", "public"),
    [
        ("002-request-1.xml", {"BusinessMailstore3": 1000}, 1000),
        (
            "002-request-2.xml",
            {"BusinessMailstore1": 200, "BusinessMailstore2": 200, "BusinessMailstore3": 200},
            500,
        ),
    ],
)
def test_seed_002_verbatim(
    client: AsgiClient, deployment: Deployment, name: str, mail: dict[str, int], public: int
) -> None:
    ok(deployment.submit(he("CreateResellerOrganization", container=HOSTING, name="Reseller1")))
    ok(deployment.submit(rm("AddExchangeResources", mailStores=STORES, publicStores=PUBLIC)))
    status, response = post(client, seed(name))
    assert status == 200, etree.tostring(response)
    org = response.find("data/org")
    assert org.get("name") == "alpineskihouse" and len(org.findall("dacl/ace")) == 6
    resources = ok(deployment.submit(rm("GetExchangeResources"))).find("data/resources")
    allocated = {
        e.findtext("mailStoreName"): int(e.findtext("allocatedMegabytes"))
        for e in resources.findall("mailStore")
        if e.findtext("allocatedMegabytes") != "0"
    }
    if name.endswith("1.xml"):  # tightPack over equal stores: all of it on one store
        assert sum(allocated.values()) == 1000 and len(allocated) == 1
    else:
        assert allocated == mail
    assert resources.find("publicStore").findtext("allocatedMegabytes") == str(public)
    plans = ok(deployment.submit(he("GetAvailablePlans", path=org_path("Reseller1", "alpineskihouse"))))
    assert [p.get("name") for p in plans.findall("data/availablePlans/plan")] == [
        "BaseMail",
        "GoldMail",
        "PlatinumMailPlus",
    ]


def test_seed_002_identity_part(client: AsgiClient, deployment: Deployment) -> None:
    ok(deployment.submit(he("CreateResellerOrganization", container=HOSTING, name="Reseller1")))
    status, response = post(client, without_exchange(seed("002-request-1.xml")))
    assert status == 200, etree.tostring(response)
    data = response.find("data")
    # inputs echoed, in order, then the output
    assert [c.tag for c in data] == [
        "container",
        "name",
        "SMTPDomain",
        "description",
        "properties",
        "preferredDomainController",
        "org",
    ]
    org = data.find("org")
    base = "OU=alpineskihouse,OU=Reseller1,OU=Hosting,DC=fabrikam,DC=Com"
    assert org.get("path") == f"LDAP://{base}"
    assert org.get("name") == "alpineskihouse"
    wko = {o.get("wkName"): o.get("name").casefold() for o in org.find("otherWellKnownObjects")}
    assert wko == {
        k: v.casefold()
        for k, v in {
            "ThisOrganizationRoot": f"LDAP://{base}",
            "ForeignOwnerOrg": "LDAP://OU=Reseller1,OU=Hosting,DC=fabrikam,DC=Com",
            "UserCreators": f"LDAP://CN=Admins@alpineskihouse,{base}",
            "ChildOrgCreators": f"LDAP://CN=CSRAdmins@alpineskihouse,{base}",
            "OrgType": "LDAP://CN=customer,CN=WatOrgTypes,CN=_Private,OU=Hosting,DC=fabrikam,DC=com",
            "MultiGroupPointer": f"LDAP://CN=MultiGroup,CN=_Private,{base}",
        }.items()
    }
    private = org.find("orgs/org")
    assert private.get("name") == "_Private" and private.get("class") == "container"
    assert [o.get("name") for o in private.iter("org")] == [
        "_Private",
        "MultiGroup",
        "UserN",
        "AllUsers@alpineskihouse",
        "ChildOrgN",
    ]
    pointer = private.find(".//org[@name='AllUsers@alpineskihouse']/otherWellKnownObjects/obj")
    assert pointer.get("name") == f"LDAP://CN=AllUsers@alpineskihouse,CN=_Private,{base}"
    all_users = private.find("groups/group")
    assert all_users.find("memberOfGroup").get("name") == (
        "LDAP://CN=AllCustomers@Reseller1,CN=_Private,OU=Reseller1,OU=Hosting,DC=fabrikam,DC=com"
    )
    groups = {g.get("name"): g for g in org.findall("groups/group")}
    assert (
        groups["Admins@alpineskihouse"]
        .find("memberOfGroup")
        .get("name")
        .startswith("LDAP://CN=AllCustomerAdminsGroups@Reseller1,")
    )
    csr = groups["CSRAdmins@alpineskihouse"]
    assert csr.find("memberOfGroup").get("name").startswith("LDAP://CN=AllCustomerCSRAdminsGroups@Reseller1,")
    assert csr.find("dacl/ace/trustee").text == "S-1-5-10"
    assert csr.find("dacl/ace/inheritance").text == "NO_INHERITANCE"
    aces = org.findall("dacl/ace")
    assert len(aces) == 6
    documented = etree.fromstring(seed("002-response-1.xml").encode()).findall("data/org/dacl/ace")
    for ours, theirs in zip(aces, documented, strict=True):
        assert {p.text for p in ours.findall("permission")} == {p.text for p in theirs.findall("permission")}
        trustee = re.sub(r"MindsEyeGraphics", "alpineskihouse", theirs.find("trustee").text)
        trustee = trustee.replace("OU=WH", "OU=Reseller1").replace("@WH", "@Reseller1")
        assert ours.find("trustee").text.casefold() == trustee.casefold()
        assert ours.find("mode").text == "GRANT_ACCESS"
        their_inheritance = theirs.find("inheritance")
        if their_inheritance is not None:
            assert ours.find("inheritance").text == their_inheritance.text
    assert aces[-1].find("inheritedObjectTypeName").text == "{BF967ABA-0DE6-11D0-A285-00AA003049E2}"


@pytest.mark.parametrize(
    ("name", "store"),
    [
        ("003-request-1.xml", None),
        ("003-request-2.xml", None),
        ("003-request-3.xml", "BusinessMailStore1"),
    ],
)
def test_seed_003(client: AsgiClient, deployment: Deployment, name: str, store: str | None) -> None:
    make_alpineskihouse(deployment, exchange=True)
    status, response = post(client, seed(name))
    assert status == 200, etree.tostring(response)
    data = response.find("data")
    password = data.find("newPassword")
    assert password.get("do-not-log") == "1" and password.text is None
    assert b"Pass1Word" not in etree.tostring(response)
    # seed 003's response: the caller's properties and the mailbox's in one <properties>
    [properties] = data.findall("properties")
    props = {p.get("name"): p for p in properties.findall("property")}
    base = "OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=Com"
    assert props["street"].text == "1703 NE 91st"
    assert props["msExchQueryBaseDN"].findtext("value").casefold() == base.casefold()
    assert props["mail"].findtext("value") == "admin@alpineskihouse.com"
    assert props["msExchMailboxFolderSet"].findtext("value") == "108303"
    assert props["msExchUserAccountControl"].findtext("value") == "0"
    address_book = props["showInAddressBook"]
    assert address_book.get("mode") == "append"
    assert address_book.findtext("value") == (
        "CN=Default Global Address List,CN=All Global Address Lists,CN=Address Lists Container,"
        "CN=fabrikam,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=fabrikam,DC=com"
    )
    assert data.findtext("mail/size") == "10000"  # BaseMail
    assert [data.findtext(f"mail/disable{p}") for p in ("POP", "IMAP", "HTTP")] == ["0", "1", "0"]
    assert [v.text for v in data.findall("proxyAddresses/value")] == ["admin@alpineskihouse.com"]
    user = data.find("user")
    assert user.get("path") == f"LDAP://CN=admin@alpineskihouse.com,{base}"
    assert user.get("name") == "admin@alpineskihouse.com"
    assert [g.get("name").casefold() for g in user.findall("memberOfGroup")] == [
        f"LDAP://CN=AllUsers@alpineskihouse,CN=_Private,{base}".casefold(),
        f"LDAP://CN=Admins@alpineskihouse,{base}".casefold(),
    ]
    allocation = ok(deployment.submit(rm("QueryMailboxAllocation", mailbox=user.get("path"))))
    assert allocation.findtext("data/mailStore/kilobytes") == "10000"
    if store is not None:
        assert allocation.findtext("data/mailStore/mailStoreName") == store
    # the new admin can sign in with the seed's password and sees its own mailbox
    status, response = post(
        client, he("GetBusinessUser", path=user.get("path")), auth=("admin@alpineskihouse.com", "Pass1Word")
    )
    assert status == 200
    props = {p.get("name"): [v.text for v in p] for p in response.iter("property")}
    assert props["otherHomePhone"] == ["2065551212", "2065551213"]
    assert props["sAMAccountName"] == ["admin_alpineskihouse"]
    assert props["proxyAddresses"] == ["SMTP:admin@alpineskihouse.com"]
    assert props["mailNickname"] == ["admin"]
    assert "userPassword" not in props


def test_seed_003_without_an_available_plan_changes_nothing(
    client: AsgiClient, deployment: Deployment
) -> None:
    make_alpineskihouse(deployment)  # no storage, no plans
    status, response = post(client, seed("003-request-1.xml"))
    assert status == 404  # MPS's 0x80072030: the plan is not valid for the organization
    error = response.find("errorContext")
    assert error.get("code") == "0x80072030"
    assert "'BaseMail' is not available" in error.get("description")
    assert b"Pass1Word" not in etree.tostring(response)
    users = ok(deployment.submit(he("GetBusinessUsers", path=org_path("WH", "alpineskihouse"))))
    assert users.findall("data/users/user") == []


def test_http_status_codes(client: AsgiClient, deployment: Deployment) -> None:
    assert client.get("/health").text == "ok"
    status, response = post(client, he("GetBusinessUsers", path=HOSTING), auth=None)
    assert status == 401 and response.find("errorContext").get("code") == "0x8007052E"
    status, _ = post(
        client, he("GetBusinessUsers", path=HOSTING), auth=("administrator@fabrikam.com", "wrong")
    )
    assert status == 401
    status, response = post(client, "<request><procedure>")
    assert status == 400 and response.find("errorContext").get("code") == "0xC00CE500"
    status, _ = post(client, he("NoSuchProcedure"))
    assert status == 404
    status, response = post(client, he("CreateResellerOrganization", container=HOSTING))
    assert status == 400 and "'name' is required" in response.find("errorContext").get("description")
    big = "<request>" + " " * (10 * 1024 * 1024) + "</request>"
    status, response = post(client, big)
    assert status == 413 and response.find("errorContext") is not None


def test_dry_run_over_http(client: AsgiClient, deployment: Deployment) -> None:
    document = he("CreateResellerOrganization", container=HOSTING, name="WH").encode()
    before = snapshot(deployment)
    response = client.post("/provisioning?dryRun=true", content=document, auth=AUTH)
    assert response.status_code == 200
    assert etree.fromstring(response.content).get("dryRun") == "true"
    assert snapshot(deployment) == before
    bad = client.post("/provisioning?dryRun=maybe", content=document, auth=AUTH)
    assert bad.status_code == 400
    error = etree.fromstring(bad.content).find("errorContext")
    assert error.get("description") == "query parameter dryRun='maybe' is not true, false, 1 or 0"
    assert snapshot(deployment) == before
