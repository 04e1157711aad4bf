"""Address lists: <Org> GAL/AL/OAL, the org's pointers to them, its mail users stamped, on demand."""

from __future__ import annotations

from openmps.app import Deployment
from openmps.types import DN
from support import HOSTING, RawXml, he, make_alpineskihouse, ok, org_path, snapshot

ALPINE = org_path("WH", "alpineskihouse")
EXCHANGE_ORG = "CN=fabrikam,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=fabrikam,DC=com"
LISTS = "CN=Address Lists Container," + EXCHANGE_ORG
GAL = f"CN=alpineskihouse GAL,CN=All Global Address Lists,{LISTS}"
AL = f"CN=alpineskihouse AL,CN=All Address Lists,{LISTS}"
OAL = f"CN=alpineskihouse OAL,CN=Offline Address Lists,{LISTS}"
DEFAULT_GAL = f"CN=Default Global Address List,CN=All Global Address Lists,{LISTS}"


def user_path(local: str) -> str:
    return f"LDAP://CN={local}@alpineskihouse.com,{ALPINE[7:]}"


def create_user(d: Deployment, local: str, plan: str | None = None) -> None:
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName=f"{local}@alpineskihouse.com",
                isAdmin=False,
                planName=plan,
            )
        )
    )


def attrs(d: Deployment, local: str) -> dict[str, list[str]]:
    response = ok(d.submit(he("GetBusinessUser", path=user_path(local))))
    return {p.get("name"): [v.text for v in p] for p in response.iter("property")}


def norm(values: list[str]) -> set[str]:
    return {DN.parse(v).norm for v in values}


def test_lists_are_created_and_users_stamped(deployment: Deployment) -> None:
    d = deployment
    make_alpineskihouse(d, exchange=True)
    create_user(d, "mia", "BaseMail")
    create_user(d, "ned")  # no mailbox: not in any list
    response = ok(d.submit(he("CreateOrganizationAddressLists", path=ALPINE)))
    made = {e.get("wkName"): e.get("path") for e in response.findall("data/addressLists/addressList")}
    assert {k: DN.from_path(v).norm for k, v in made.items()} == {
        "OrganizationGAL": DN.parse(GAL).norm,
        "OrganizationAddressList": DN.parse(AL).norm,
        "OrganizationOAB": DN.parse(OAL).norm,
    }
    org = ok(d.submit(he("GetBusinessOrganization", path=ALPINE)))
    pointers = {o.get("wkName") for o in org.findall("data/org/otherWellKnownObjects/obj")}
    assert {"OrganizationGAL", "OrganizationAddressList", "OrganizationOAB"} <= pointers
    mia = attrs(d, "mia")
    assert norm(mia["showInAddressBook"]) == norm([DEFAULT_GAL, GAL, AL])
    assert norm(mia["msExchUseOAB"]) == norm([OAL])
    assert "showInAddressBook" not in attrs(d, "ned")
    # users made later are stamped on creation
    create_user(d, "ola", "GoldMail")
    assert norm(attrs(d, "ola")["showInAddressBook"]) == norm([DEFAULT_GAL, GAL, AL])
    # only the organization's own groups may read its lists
    with d.transaction() as providers:
        gal = providers.directory.get(DN.parse(GAL))
        sids = {ace.trustee for ace in providers.directory.dacl_of(gal).aces}
        names = {
            providers.directory.get(DN.from_path(ALPINE).child("CN", g)).sid
            for g in ("Admins@alpineskihouse",)
        }
        all_users = DN.from_path(ALPINE).child("CN", "_Private").child("CN", "AllUsers@alpineskihouse")
        names.add(providers.directory.get(all_users).sid)
        assert sids == names
        assert gal.first("purportedSearch") is not None
        assert providers.directory.get(DN.parse(OAL)).first("offLineABContainers") is not None
    # a second call changes nothing
    before = snapshot(d)
    ok(d.submit(he("CreateOrganizationAddressLists", path=ALPINE)))
    assert snapshot(d) == before
    events = ok(d.submit(he("GetBillableEvents", path=ALPINE))).findall("data/events/event")
    assert [e.get("type") for e in events].count("AL") == 1


def test_a_plan_with_full_outlook_creates_the_lists_on_demand(deployment: Deployment) -> None:
    d = deployment
    make_alpineskihouse(d, exchange=True)
    ok(
        d.submit(
            he(
                "AddAvailablePlans",
                path=ALPINE,
                availablePlans=RawXml("<planName>PlatinumMailPlus</planName>"),
            )
        )
    )
    create_user(d, "pat", "PlatinumMailPlus")
    assert norm(attrs(d, "pat")["showInAddressBook"]) == norm([DEFAULT_GAL, GAL, AL])


def test_a_plan_change_to_full_outlook_creates_the_lists_and_stamps_the_user(deployment: Deployment) -> None:
    # reference §2.7 step 6: ChangeUserMailboxPlan does what CreateBusinessUser with the plan does
    d = deployment
    make_alpineskihouse(d, exchange=True)
    platinum = RawXml("<planName>PlatinumMailPlus</planName>")
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=platinum)))
    create_user(d, "pat", "BaseMail")
    store2 = RawXml("<serverName>EXBE02</serverName><mailStoreName>BusinessMailStore2</mailStoreName>")
    upn = "kim@alpineskihouse.com"
    kim = he(
        "CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False, planName="BaseMail"
    )
    ok(d.submit(kim.replace("</planName>", f"</planName><mailStore>{store2.xml}</mailStore>")))
    assert norm(attrs(d, "pat")["showInAddressBook"]) == norm([DEFAULT_GAL])
    ok(d.submit(he("ChangeUserMailboxPlan", path=user_path("pat"), planName="PlatinumMailPlus")))
    org = ok(d.submit(he("GetBusinessOrganization", path=ALPINE)))
    pointers = {o.get("wkName") for o in org.findall("data/org/otherWellKnownObjects/obj")}
    assert {"OrganizationGAL", "OrganizationAddressList", "OrganizationOAB"} <= pointers
    for local in ("pat", "kim"):  # every mail user of the org is in its lists, as on creation
        assert norm(attrs(d, local)["showInAddressBook"]) == norm([DEFAULT_GAL, GAL, AL])
        assert norm(attrs(d, local)["msExchUseOAB"]) == norm([OAL])
    # a plan change with the lists there already, and back, creates nothing more
    before = snapshot(d)
    ok(d.submit(he("ChangeUserMailboxPlan", path=user_path("pat"), planName="PlatinumMailPlus")))
    assert snapshot(d) == before
    ok(d.submit(he("ChangeUserMailboxPlan", path=user_path("pat"), planName="BaseMail")))
    assert norm(attrs(d, "pat")["showInAddressBook"]) == norm([DEFAULT_GAL, GAL, AL])


def test_same_name_under_another_reseller_gets_its_own_lists(deployment: Deployment) -> None:
    d = deployment
    make_alpineskihouse(d)
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="R2")))
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("R2"),
                name="alpineskihouse",
                SMTPDomain="alpine-two.example",
            )
        )
    )
    ok(d.submit(he("CreateOrganizationAddressLists", path=ALPINE)))
    response = ok(d.submit(he("CreateOrganizationAddressLists", path=org_path("R2", "alpineskihouse"))))
    names = sorted(e.get("name") for e in response.findall("data/addressLists/addressList"))
    assert names == ["alpineskihouse (R2) AL", "alpineskihouse (R2) GAL", "alpineskihouse (R2) OAL"]


def test_organization_with_lists_from_creation_and_deleted(deployment: Deployment) -> None:
    d = deployment
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=org_path("WH"),
                name="alpineskihouse",
                SMTPDomain="alpineskihouse.com",
                createAddressLists=True,
            )
        )
    )
    with d.transaction() as providers:
        assert providers.directory.exists(DN.parse(GAL))
    ok(d.submit(he("DeleteBusinessOrganization", path=ALPINE)))
    with d.transaction() as providers:
        for dn in (GAL, AL, OAL):
            assert not providers.directory.exists(DN.parse(dn))
        assert providers.directory.exists(DN.parse(DEFAULT_GAL))  # the shared containers stay
