"""The whole responses of the MPS Import and Hosted Active Directory Import procedures, byte for
byte (GUIDs, SIDs and times masked): one scenario calls each of them, and
tests/e2e/golden/import_responses.txt holds what they answered."""

from __future__ import annotations

import re
from pathlib import Path

from openmps.app import Deployment
from openmps.types import DN
from support import RawXml, answered, golden_text, make_alpineskihouse, org_path, request_xml

GOLDEN = Path(__file__).parent / "golden" / "import_responses.txt"
ALPINE = org_path("WH", "alpineskihouse")
STORE_DN = (
    "CN=BusinessMailStore1,CN=First Storage Group,CN=InformationStore,CN=EXBE01,CN=Servers,"
    "CN=First Administrative Group,CN=Administrative Groups,CN=fabrikam,CN=Microsoft Exchange,CN=Services,"
    "CN=Configuration,DC=fabrikam,DC=com"
)
AFTER = '<after source="executeData" destination="data" mode="merge"/>'
MASKS = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "GUID"),
    (re.compile(r"S-1-5-21(-\d+)+"), "SID"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "TIME"),
    (re.compile(r"\d{14}\.0Z"), "TIME"),
)


def imp(procedure: str, /, **args: object) -> str:
    return request_xml("MPS Import", procedure, **args)


def hadi(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Active Directory Import", procedure, **args)


def add(d: Deployment, path: str, classes: list[str], **attrs: list[str]) -> str:
    """An object as a migration tool leaves it (no groups, pointers or DACL of ours)."""
    dn = DN.from_path(path)
    with d.transaction() as providers:
        providers.directory.add(
            dn, {"objectClass": ["top", *classes], dn.rdn_attr.lower(): [dn.rdn_value], **attrs}
        )
    return path


def user(d: Deployment, cn: str, upn: str, under: str = ALPINE, **attrs: list[str]) -> str:
    path = f"LDAP://CN={cn},{under[7:]}"
    sddl = ["D:(A;;RP;;;S-1-5-11)(A;;RPWP;;;PS)"]
    return add(
        d,
        path,
        ["person", "organizationalPerson", "user"],
        userPrincipalName=[upn],
        nTSecurityDescriptor=sddl,
        **attrs,
    )


def scenario(d: Deployment) -> list[tuple[str, str]]:
    make_alpineskihouse(d, exchange=True)
    ou = ["organizationalUnit"]
    reseller = add(d, org_path("R8"), ou)
    imported = add(d, org_path("WH", "imported"), ou, uPNSuffixes=["imported.example", "other.example"])
    sales = add(d, org_path("WH", "alpineskihouse", "Sales"), ou)
    east = add(d, org_path("WH", "alpineskihouse", "Sales", "East"), ou)
    bob = user(
        d,
        "Bob Migrated",
        "bob@alpineskihouse.com",
        homeMDB=[STORE_DN],
        mDBOverQuotaLimit=["5000"],
        proxyAddresses=["SMTP:bob.old@alpineskihouse.com", "X500:/o=Old/ou=First/cn=bob"],
    )
    new_bob = f"LDAP://CN=bob@alpineskihouse.com,{ALPINE[7:]}"
    cy = user(d, "Cy", "cy@alpineskihouse.com", under=east, homeMDB=[STORE_DN], mDBOverQuotaLimit=["8000"])
    dot = user(d, "Dot", "dot@alpineskihouse.com", homeMDB=[STORE_DN])
    eve = user(d, "Eve", "eve@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["6000"])
    fay = user(d, "Fay", "fay@alpineskihouse.com")
    shop = add(d, org_path("R8", "shop"), ou, uPNSuffixes=["shop.example"])
    raw = add(d, f"LDAP://CN=Raw,{shop[7:]}", ["user"], userPrincipalName=["raw@shop.example"])
    team = add(d, f"LDAP://CN=Team,{shop[7:]}", ["group"], mail=["team@shop.example"])
    vendor = add(d, f"LDAP://CN=Vendor,{shop[7:]}", ["contact"], mail=["v@vendor.example"])
    steps = [
        imp("EnableOrganizationForHosting", path=imported, policyName="customer"),
        imp("EnableCustomerForPlans", path=imported),
        imp("ImportOrganization", path=imported),
        imp("ImportOrganization", path=sales),
        imp("EnableOrganizationForHosting", path=east, policyName="default"),
        imp("ImportOrganization", path=east, policyName="default"),
        imp("EnableUserForHosting", path=bob),
        imp("EnableCustomerForPlans", path=new_bob),
        imp("AllocateExistingMailbox", path=new_bob),
        imp("AllocateExistingMailbox", path=new_bob),
        imp(
            "ApplyMailboxPlan",
            path=new_bob,
            planName="GoldMail",
            proxyAddresses=RawXml("<value>bobby@alpineskihouse.com</value>"),
            alias="bobby",
        ),
        imp("ApplyMailboxPlan", path=new_bob, planName="BaseMail"),
        imp("ImportUser", path=new_bob, isAdmin=True, planName="GoldMail"),
        imp("ImportUser", path=cy, isAdmin=False, planName="BaseMail"),
        imp("AllocateExistingMailbox", path=dot, kilobytes=7000),
        imp("ImportUser", path=eve, isAdmin=False),
        imp("ImportUser", path=fay, isAdmin=True, userPrincipalName="fay@alpineskihouse.com"),
        # no <after>: nothing reads the outputs
        imp(
            "ImportUser",
            path=f"LDAP://CN=eve@alpineskihouse.com,{ALPINE[7:]}",
            isAdmin=False,
            planName="BaseMail",
        ).replace(AFTER, ""),
        hadi("ImportResellerOrganization", organization=reseller),
        hadi("ImportBusinessOrganization", organization=shop, planName="GoldMail"),
        hadi("ImportUser", user=raw, isAdmin=True),
        hadi("ImportGroup", group=team),
        hadi("ImportGroup", group=team),
        hadi("ImportContact", contact=vendor),
        hadi("ImportContact", contact=vendor),
    ]
    return answered(d.submit, steps, MASKS)


def test_responses_are_unchanged(deployment: Deployment) -> None:
    assert golden_text(scenario(deployment)) == GOLDEN.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the golden file (only before a port, never to pass after one)
    import sys
    import tempfile

    from openmps.app import init_deployment
    from openmps.types import Secret
    from support import ADMIN_PASSWORD, fast_passwords

    with tempfile.TemporaryDirectory() as home:
        deployment = init_deployment(
            Path(home) / "home",
            domain="fabrikam.com",
            admin_password=Secret(ADMIN_PASSWORD),
            passwords=fast_passwords(),
        )
        GOLDEN.write_text(golden_text(scenario(deployment)), encoding="utf-8")
    sys.exit(0)


def test_the_python_door_answers_typed_results(deployment: Deployment) -> None:
    """The same procedures called without XML answer their result objects."""
    from openmps.hosting.exchange import MailboxStamp
    from openmps.hosting.render import OrgInfo
    from openmps.namespaces.mps_import.results import ImportedUser, UserRef

    d = deployment
    make_alpineskihouse(d, exchange=True)
    admin = d.administrator()
    sales = add(d, org_path("WH", "alpineskihouse", "Sales"), ["organizationalUnit"])
    department = d.engine.call(
        "MPS Import", "ImportOrganization", {"path": sales}, caller=admin, returns=OrgInfo
    )
    assert (department.org_type, department.well_known[0].target) == ("department", DN.from_path(ALPINE))
    bob = user(d, "Bob", "bob@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["5000"])
    call = {"path": bob, "isAdmin": False, "planName": "BaseMail"}
    imported = d.engine.call("MPS Import", "ImportUser", call, caller=admin, returns=ImportedUser)
    assert imported.user == UserRef.of(DN.from_path(f"LDAP://CN=bob@alpineskihouse.com,{ALPINE[7:]}"))
    assert isinstance(imported.stamp, MailboxStamp) and imported.stamp.proxy_addresses == (
        "bob@alpineskihouse.com",
    )
    raw = user(d, "Raw", "raw@alpineskihouse.com")
    ref = d.engine.call(
        "Hosted Active Directory Import", "ImportUser", {"user": raw}, caller=admin, returns=UserRef
    )
    assert ref.name == "raw@alpineskihouse.com"
