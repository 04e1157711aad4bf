"""MPS Import: an existing OU becomes an organization exactly as Hosted Exchange makes one, and a
damaged organization is repaired; every procedure is idempotent."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from openmps.app import Deployment
from openmps.directory import acl, wellknown
from openmps.directory.interface import Change, Scope
from openmps.types import DN
from support import HOSTING, STORE_DN, RawXml, he, migrated_user, ok, org_path, refused, request_xml, snapshot

WH = org_path("WH")


def imp(procedure: str, /, **args: object) -> str:
    return request_xml("MPS Import", procedure, **args)


def bare_ou(d: Deployment, path: str, **attrs: list[str]) -> None:
    """An OU as a migration tool leaves it: no groups, no pointers, no DACL of ours."""
    with d.transaction() as providers:
        dn = DN.from_path(path)
        providers.directory.add(
            dn, {"objectClass": ["top", "organizationalUnit"], "ou": [dn.rdn_value], **attrs}
        )


def shape(d: Deployment, path: str) -> dict[str, object]:
    """An organization's structure with its own name, GUIDs and SIDs taken out."""
    root = DN.from_path(path)
    name = root.rdn_value

    def rel(value: str) -> str:
        text = str(DN.parse(value)) if "=" in value else value
        return text.replace(name, "{org}").replace(str(root).replace(name, "{org}"), "{root}")

    with d.transaction() as providers:
        directory = providers.directory
        entries = directory.search(root, Scope.SUBTREE)
        sids = {e.sid: rel(str(e.dn)) for e in entries if e.sid}
        parent = root.parent
        for group in directory.search(parent, Scope.SUBTREE, None):
            if group.has_class("group"):
                sids.setdefault(group.sid, rel(str(group.dn)))
        found: dict[str, object] = {}
        for entry in entries:
            pointers = sorted(
                (n, rel(str(t))) for n, t in (wellknown.decode(v) for v in entry.get("otherWellKnownObjects"))
            )
            sddl = entry.first("nTSecurityDescriptor")
            aces = (
                sorted(
                    (
                        a.allow,
                        int(a.rights),
                        sids.get(a.trustee, a.trustee),
                        int(a.flags),
                        str(a.inherited_object_type),
                    )
                    for a in acl.parse_sddl(sddl).aces
                )
                if sddl
                else []
            )
            found[rel(str(entry.dn))] = {
                "classes": sorted(c.lower() for c in entry.get("objectClass")),
                "pointers": pointers,
                "members": sorted(rel(m) for m in entry.get("member")),
                "memberOf": sorted(rel(g) for g in entry.get("memberOf")),
                "aces": aces,
            }
        return found


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    ok(deployment.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    return deployment


def test_an_imported_organization_equals_a_created_one(d: Deployment) -> None:
    ok(d.submit(he("CreateBusinessOrganization", container=WH, name="created", SMTPDomain="created.example")))
    bare_ou(d, org_path("WH", "imported"), uPNSuffixes=["imported.example", "other.example"])
    response = ok(d.submit(imp("ImportOrganization", path=org_path("WH", "imported"), policyName="customer")))
    assert response.find("data/org").get("name") == "imported"
    created, imported = shape(d, org_path("WH", "created")), shape(d, org_path("WH", "imported"))
    assert imported == created
    # in the plans database too: a customer record, its domains (the first one primary)
    domains = ok(d.submit(he("GetSMTPDomains", path=org_path("WH", "imported")))).findall(
        "data/SMTPDomains/domain"
    )
    assert {(e.get("name"), e.get("type")) for e in domains} == {
        ("imported.example", "PrimaryDomain"),
        ("other.example", "SecondaryDomain"),
    }
    # and it works as one: users can be made in it
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=org_path("WH", "imported"),
                userPrincipalName="u@other.example",
                isAdmin=True,
            )
        )
    )
    # a second import changes nothing
    before = snapshot(d)
    ok(d.submit(imp("ImportOrganization", path=org_path("WH", "imported"))))
    assert snapshot(d) == before


def test_a_reseller_is_imported_below_hosting(d: Deployment) -> None:
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="R7")))
    bare_ou(d, org_path("R8"))
    ok(d.submit(imp("ImportOrganization", path=org_path("R8"))))
    assert shape(d, org_path("R8")) == shape(d, org_path("R7"))


@pytest.mark.parametrize(
    "damage",
    ["private container", "a group", "a membership", "a DACL entry", "a pointer"],
)
def test_repair(d: Deployment, damage: str) -> None:
    alpine = org_path("WH", "alpineskihouse")
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=WH,
                name="alpineskihouse",
                SMTPDomain="alpineskihouse.com",
            )
        )
    )
    healthy = shape(d, alpine)
    root = DN.from_path(alpine)
    with d.transaction() as providers:
        directory = providers.directory
        private = root.child("CN", "_Private")
        if damage == "private container":
            for entry in reversed(directory.search(private, Scope.SUBTREE)):
                directory.delete(entry.dn)
        elif damage == "a group":
            directory.delete(root.child("CN", "CSRAdmins@alpineskihouse"))
        elif damage == "a membership":
            reseller_all = DN.from_path(WH).child("CN", "_Private").child("CN", "AllCustomers@WH")
            directory.modify(
                reseller_all, [Change.delete("member", str(private.child("CN", "AllUsers@alpineskihouse")))]
            )
        elif damage == "a DACL entry":
            sddl = directory.get(root).first("nTSecurityDescriptor")
            dacl = acl.parse_sddl(sddl)
            broken = acl.Dacl(dacl.aces[1:])
            directory.modify(root, [Change.replace("nTSecurityDescriptor", acl.to_sddl(broken))])
        else:
            values = directory.get(root).get("otherWellKnownObjects")
            directory.modify(root, [Change.delete("otherWellKnownObjects", values[0])])
    assert shape(d, alpine) != healthy
    ok(d.submit(imp("EnableOrganizationForHosting", path=alpine)))
    assert shape(d, alpine) == healthy
    before = snapshot(d)
    ok(d.submit(imp("EnableOrganizationForHosting", path=alpine)))
    assert snapshot(d) == before  # idempotent


@pytest.mark.parametrize(
    ("request_xml_", "code", "words"),
    [
        (imp("EnableOrganizationForHosting", path=org_path("WH", "nothere")), "0x80072030", ()),
        (
            imp("EnableOrganizationForHosting", path=org_path("WH", "dept", "deeper")),
            "0x80070057",
            ("not in the right place",),
        ),
        (
            imp("EnableOrganizationForHosting", path=org_path("WH", "dept"), policyName="reseller"),
            "0x80070057",
            ("can only be a customer",),
        ),
        (
            imp("EnableOrganizationForHosting", path=org_path("WH", "dept"), policyName="gold"),
            "0x80070057",
            ("policyName",),
        ),
        (
            imp("EnableOrganizationForHosting", path=org_path("WH", "dept"), policyName="default"),
            "0x80070057",
            ("not inside a business organization",),
        ),
        (
            imp("EnableOrganizationForHosting", path=WH, policyName="customer"),
            "0x80070057",
            ("can only be a reseller",),
        ),
        (
            imp("EnableCustomerForPlans", path=org_path("WH", "dept"), customerTypeName="ConsumerUser"),
            "0x80070057",
            (),
        ),
    ],
    ids=[
        "missing",
        "too-deep",
        "wrong-policy",
        "unknown-policy",
        "default-policy",
        "reseller-as-customer",
        "bare-ou-record",
    ],
)
def test_bad_imports_change_nothing(
    d: Deployment, request_xml_: str, code: str, words: tuple[str, ...]
) -> None:
    bare_ou(d, org_path("WH", "dept"))
    bare_ou(d, org_path("WH", "dept", "deeper"))
    refused(d, request_xml_, code, *words)


def test_domain_held_by_another_organization(d: Deployment) -> None:
    ok(d.submit(he("CreateBusinessOrganization", container=WH, name="created", SMTPDomain="taken.example")))
    bare_ou(d, org_path("WH", "imported"), uPNSuffixes=["taken.example"])
    refused(d, imp("ImportOrganization", path=org_path("WH", "imported")), "0x8007202F", "already in use")


def test_customer_records(d: Deployment) -> None:
    bare_ou(d, org_path("WH", "imported"), uPNSuffixes=["imported.example"])
    ok(d.submit(imp("EnableOrganizationForHosting", path=org_path("WH", "imported"))))
    ok(d.submit(imp("EnableCustomerForPlans", path=org_path("WH", "imported"))))
    before = snapshot(d)
    ok(d.submit(imp("EnableCustomerForPlans", path=org_path("WH", "imported"))))
    assert snapshot(d) == before
    ok(
        d.submit(
            he(
                "AddAvailablePlans",
                path=org_path("WH", "imported"),
                availablePlans=RawXml("<planName>BaseMail</planName>"),
            )
        )
    )


ALPINE = org_path("WH", "alpineskihouse")


def user_view(d: Deployment, path: str, local: str) -> dict[str, object]:
    response = ok(d.submit(he("GetBusinessUser", path=path)))
    props = {p.get("name"): [v.text.replace(local, "{u}") for v in p] for p in response.iter("property")}
    keep = (
        "userPrincipalName",
        "mail",
        "mailNickname",
        "msExchQueryBaseDN",
        "showInAddressBook",
        "mDBStorageQuota",
        "mDBOverQuotaLimit",
        "msExchMailboxFolderSet",
        "protocolSettings",
        "msExchUserAccountControl",
        "homeMDB",
    )
    groups = sorted(g.get("name") for g in response.iter("memberOfGroup"))
    allocation = ok(
        d.submit(request_xml("Exchange Resource Manager", "QueryMailboxAllocation", mailbox=path))
    )
    return {
        **{k: props.get(k) for k in keep},
        "proxy": sorted(v.lower() for v in props.get("proxyAddresses", [])),
        "groups": groups,
        "kilobytes": allocation.findtext("data/mailStore/kilobytes"),
        "store": allocation.findtext("data/mailStore/mailStoreName"),
    }


@pytest.fixture
def exchange(deployment: Deployment) -> Deployment:
    from support import make_alpineskihouse

    make_alpineskihouse(deployment, exchange=True)
    return deployment


def test_an_imported_user_equals_a_created_one(exchange: Deployment) -> None:
    d = exchange
    store = RawXml("<serverName>EXBE01</serverName><mailStoreName>BusinessMailStore1</mailStoreName>")
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="ann@alpineskihouse.com",
                isAdmin=True,
                planName="GoldMail",
                mailStore=store,
            )
        )
    )
    path = migrated_user(
        d,
        "Bob Migrated",
        "bob@alpineskihouse.com",
        homeMDB=[STORE_DN],
        mDBOverQuotaLimit=["5000"],
        proxyAddresses=["SMTP:bob.old@alpineskihouse.com", "X500:/o=Old/ou=First/cn=bob"],
    )
    response = ok(d.submit(imp("ImportUser", path=path, isAdmin=True, planName="GoldMail")))
    new_path = response.find("data/user").get("path")
    assert DN.from_path(new_path).rdn_value == "bob@alpineskihouse.com"  # named after its UPN now
    created = user_view(d, f"LDAP://CN=ann@alpineskihouse.com,{ALPINE[7:]}", "ann")
    imported = user_view(d, new_path, "bob")
    # the imported one keeps its old addresses beside the new primary one
    assert imported.pop("proxy") == [
        "smtp:{u}.old@alpineskihouse.com",
        "smtp:{u}@alpineskihouse.com",
        "x500:/o=old/ou=first/cn={u}",
    ]
    assert created.pop("proxy") == ["smtp:{u}@alpineskihouse.com"]
    assert imported == created
    with d.transaction() as providers:  # Authenticated Users lost their access
        sddl = providers.directory.get(DN.from_path(new_path)).first("nTSecurityDescriptor")
        assert "S-1-5-11" not in sddl and "AU)" not in sddl
    # a second import writes nothing
    before = snapshot(d)
    ok(d.submit(imp("ImportUser", path=new_path, isAdmin=True, planName="GoldMail")))
    assert snapshot(d) == before


def test_import_grants_the_organization_space_its_mailboxes_need(exchange: Deployment) -> None:
    d = exchange
    # 50 MB per store: a 60,000 KB mailbox needs more than the organization holds there
    path = migrated_user(d, "big", "big@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["60000"])
    ok(d.submit(imp("ImportUser", path=path, isAdmin=False)))
    from support import check_invariants

    check_invariants(d.sql)
    allocation = ok(
        d.submit(
            request_xml(
                "Exchange Resource Manager",
                "QueryMailboxAllocation",
                mailbox=f"LDAP://CN=big@alpineskihouse.com,{ALPINE[7:]}",
            )
        )
    )
    assert allocation.findtext("data/mailStore/kilobytes") == "60000"


@pytest.mark.parametrize(
    ("attrs", "request_args", "code", "words"),
    [
        ({"homeMDB": [STORE_DN]}, {"isAdmin": False}, "0x80070057", ("no mailbox size",)),
        ({}, {"isAdmin": False, "planName": "BaseMail"}, "0x80070057", ("no mailbox",)),
        (
            {"homeMDB": [STORE_DN.replace("BusinessMailStore1", "Unknown")], "mDBOverQuotaLimit": ["10"]},
            {"isAdmin": False},
            "0x80072030",
            ("Unknown",),
        ),
        (
            {"homeMDB": [STORE_DN], "mDBOverQuotaLimit": ["10"]},
            {"isAdmin": False, "planName": "PlatinumMailPlus"},
            "0x80072030",
            ("not available",),
        ),
        (
            {
                "homeMDB": [STORE_DN],
                "mDBOverQuotaLimit": ["10"],
                "proxyAddresses": ["SMTP:x@elsewhere.example"],
            },
            {"isAdmin": False, "planName": "BaseMail"},
            "0x80070057",
            ("not a domain of",),
        ),
    ],
    ids=["no-size", "plan-without-mailbox", "unknown-store", "plan-not-available", "foreign-address"],
)
def test_bad_user_imports_change_nothing(
    exchange: Deployment,
    attrs: dict[str, list[str]],
    request_args: dict[str, object],
    code: str,
    words: tuple[str, ...],
) -> None:
    path = migrated_user(exchange, "carl", "carl@alpineskihouse.com", **attrs)
    refused(exchange, imp("ImportUser", path=path, **request_args), code, *words)


def test_user_in_the_wrong_place(exchange: Deployment) -> None:
    with exchange.transaction() as providers:
        dn = DN.from_path(WH).child("CN", "stray")
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "user"],
                "cn": ["stray"],
                "userPrincipalName": ["stray@alpineskihouse.com"],
            },
        )
    refused(
        exchange, imp("ImportUser", path=dn.ldap_path, isAdmin=False), "0x80070057", "not in the right place"
    )


def _world_for_property(home: object) -> Deployment:
    from pathlib import Path

    from openmps.app import init_deployment
    from openmps.types import Secret
    from support import ADMIN_PASSWORD, fast_passwords, mail_stores

    d = init_deployment(
        Path(str(home)),
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
    )
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    stores = mail_stores(("EXBE01", "BusinessMailStore1", 5000, True))
    ok(d.submit(request_xml("Exchange Resource Manager", "AddExchangeResources", mailStores=stores)))
    return d


def _normalized(value: object, org: str, domain: str) -> object:
    if isinstance(value, str):
        return value.replace(domain, "{domain}").replace(org, "{org}")
    if isinstance(value, list):
        return [_normalized(v, org, domain) for v in value]
    if isinstance(value, dict):
        return {_normalized(k, org, domain): _normalized(v, org, domain) for k, v in value.items()}
    return value


PLAN_SIZES = {"BaseMail": "10000", "GoldMail": "20000"}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.from_regex(r"[a-z][a-z0-9]{2,8}", fullmatch=True),
    users=st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9]{1,8}", fullmatch=True),
            st.booleans(),
            st.sampled_from([None, "BaseMail", "GoldMail"]),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda u: u[0],
    ),
)
def test_create_and_import_give_the_same_organization(
    tmp_path_factory: pytest.TempPathFactory, name: str, users: list[tuple[str, bool, str | None]]
) -> None:
    """For random organizations and users: created through Hosted Exchange, or added raw and then
    imported, they end up the same (names, GUIDs and SIDs aside)."""
    d = _world_for_property(tmp_path_factory.mktemp("equivalence") / "home")
    plans = RawXml("<planName>BaseMail</planName><planName>GoldMail</planName>")
    storage = RawXml("<megabytes>200</megabytes>")
    created, imported = f"c{name}", f"i{name}"
    ok(
        d.submit(
            he(
                "CreateBusinessOrganization",
                container=WH,
                name=created,
                SMTPDomain=f"{created}.example",
                mailStore=storage,
                availablePlans=plans,
            )
        )
    )
    bare_ou(d, org_path("WH", imported), uPNSuffixes=[f"{imported}.example"])
    ok(d.submit(imp("ImportOrganization", path=org_path("WH", imported))))
    ok(
        d.submit(
            request_xml(
                "Exchange Resource Manager",
                "AllocateOrganization",
                organization=org_path("WH", imported),
                mailStore=storage,
            )
        )
    )
    ok(d.submit(he("AddAvailablePlans", path=org_path("WH", imported), availablePlans=plans)))
    root = DN.from_path(org_path("WH", imported))
    for local, admin, plan in users:
        ok(
            d.submit(
                he(
                    "CreateBusinessUser",
                    container=org_path("WH", created),
                    userPrincipalName=f"{local}@{created}.example",
                    isAdmin=admin,
                    planName=plan,
                )
            )
        )
        attrs: dict[str, list[str]] = {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "cn": [f"{local} (migrated)"],
            "userPrincipalName": [f"{local}@{imported}.example"],
        }
        if plan is not None:
            attrs.update(homeMDB=[STORE_DN], mDBOverQuotaLimit=[PLAN_SIZES[plan]])
        with d.transaction() as providers:
            providers.directory.add(root.child("CN", f"{local} (migrated)"), attrs)
        path = root.child("CN", f"{local} (migrated)").ldap_path
        ok(d.submit(imp("ImportUser", path=path, isAdmin=admin, planName=plan)))
    assert _normalized(shape(d, org_path("WH", created)), created, f"{created}.example") == _normalized(
        shape(d, org_path("WH", imported)), imported, f"{imported}.example"
    )
    for local, _, plan in users:
        views = []
        for org in (created, imported):
            path = DN.from_path(org_path("WH", org)).child("CN", f"{local}@{org}.example").ldap_path
            response = ok(d.submit(he("GetBusinessUser", path=path)))
            props = {p.get("name"): sorted(v.text for v in p) for p in response.iter("property")}
            view = {
                k: props.get(k)
                for k in (
                    "userPrincipalName",
                    "mail",
                    "mailNickname",
                    "msExchQueryBaseDN",
                    "mDBStorageQuota",
                    "protocolSettings",
                    "msExchMailboxFolderSet",
                    "showInAddressBook",
                    "memberOf",
                )
            }
            view["groups"] = sorted(g.get("name") for g in response.iter("memberOfGroup"))
            views.append(_normalized(view, org, f"{org}.example"))
        assert views[0] == views[1], (local, plan)
    d.sql.dispose()


def hadi(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Active Directory Import", procedure, **args)


def test_hosted_active_directory_import(d: Deployment) -> None:
    bare_ou(d, org_path("R5"))
    ok(d.submit(hadi("ImportResellerOrganization", organization=org_path("R5"))))
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="R6")))
    assert shape(d, org_path("R5")) == shape(d, org_path("R6"))
    # a second import is refused: it is under management now
    refused(
        d,
        hadi("ImportResellerOrganization", organization=org_path("R5")),
        "0x80071392",
        "already under management",
    )
    bare_ou(d, org_path("R5", "shop"), uPNSuffixes=["shop.example"])
    ok(d.submit(hadi("ImportBusinessOrganization", organization=org_path("R5", "shop"), planName="GoldMail")))
    plans = ok(d.submit(he("GetAvailablePlans", path=org_path("R5", "shop")))).findall(
        "data/availablePlans/plan"
    )
    assert [p.get("name") for p in plans] == ["GoldMail"]
    shop = DN.from_path(org_path("R5", "shop"))
    with d.transaction() as providers:
        for dn, attrs in (
            (
                shop.child("CN", "Raw"),
                {"objectClass": ["top", "user"], "cn": ["Raw"], "userPrincipalName": ["raw@shop.example"]},
            ),
            (
                shop.child("CN", "Team"),
                {"objectClass": ["top", "group"], "cn": ["Team"], "mail": ["team@shop.example"]},
            ),
            (
                shop.child("CN", "Vendor"),
                {"objectClass": ["top", "contact"], "cn": ["Vendor"], "mail": ["v@vendor.example"]},
            ),
        ):
            providers.directory.add(dn, attrs)
    user = ok(d.submit(hadi("ImportUser", user=shop.child("CN", "Raw").ldap_path, isAdmin=True)))
    assert user.findall("data/user")[-1].get("name") == "raw@shop.example"  # after the argument <user>
    ok(d.submit(hadi("ImportGroup", group=shop.child("CN", "Team").ldap_path)))
    ok(d.submit(hadi("ImportContact", contact=shop.child("CN", "Vendor").ldap_path)))
    with d.transaction() as providers:
        team = providers.directory.get(shop.child("CN", "Team"))
        vendor = providers.directory.get(shop.child("CN", "Vendor"))
    assert team.first("sAMAccountName") and team.first("msExchQueryBaseDN").casefold() == str(shop).casefold()
    assert vendor.get("showInAddressBook")
    before = snapshot(d)
    ok(d.submit(hadi("ImportGroup", group=shop.child("CN", "Team").ldap_path)))  # idempotent
    assert snapshot(d) == before
    refused(
        d,
        hadi("ImportUser", user=shop.child("CN", "raw@shop.example").ldap_path),
        "0x80071392",
        "already under management",
    )
    refused(
        d, hadi("ImportContact", contact=shop.child("CN", "Team").ldap_path), "0x80070057", "not a contact"
    )


# --- bulk: many users in one request, each standing alone --------------------------------------------


def bulk_import(paths: list[str]) -> str:
    """ImportUser for every <user><path> of the data, each item alone, answering only the new path."""
    users = "".join(f"<user><path>{p}</path></user>" for p in paths)
    return (
        f"<request><data><users>{users}</users></data><procedure>"
        '<execute namespace="MPS Import" procedure="ImportUser">'
        '<forEach name="user" root="data" path="users/user" onError="continue"/>'
        "<executeData><isAdmin>false</isAdmin><planName>BaseMail</planName></executeData>"
        '<before source="user" sourcePath="path" destination="executeData"/>'
        '<after source="executeData" sourcePath="user" destination="user" destinationPath="imported"/>'
        "</execute></procedure></request>"
    )


def test_bulk_import_reports_each_item_and_a_dry_run_shows_the_same_without_writing(
    exchange: Deployment,
) -> None:
    from support import check_invariants

    d = exchange
    sized = {"homeMDB": [STORE_DN], "mDBOverQuotaLimit": ["10000"]}
    good = [migrated_user(d, f"user {i}", f"u{i}@alpineskihouse.com", **sized) for i in range(4)]
    unsized = migrated_user(d, "unsized", "unsized@alpineskihouse.com", homeMDB=[STORE_DN])
    foreign = migrated_user(
        d, "foreign", "foreign@alpineskihouse.com", proxyAddresses=["SMTP:f@elsewhere.example"], **sized
    )
    # The store holds 1000 MB: an 1100 MB mailbox cannot be registered on it.
    huge = migrated_user(
        d, "huge", "huge@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["1100000"]
    )
    paths = [good[0], unsized, good[1], foreign, good[2], huge, good[3]]
    before = snapshot(d)

    rehearsal = ok(d.submit(bulk_import(paths), dry_run=True))
    assert rehearsal.get("dryRun") == "true"
    assert snapshot(d) == before  # nothing written

    response = ok(d.submit(bulk_import(paths)))
    items = response.findall("data/users/user")
    failed = {
        item.findtext("path"): item.find("errorContext")
        for item in items
        if item.find("errorContext") is not None
    }
    assert set(failed) == {unsized, foreign, huge}
    assert "no mailbox size" in failed[unsized].get("description")
    assert "not a domain of" in failed[foreign].get("description")
    assert "EXBE01" in failed[huge].get("description")
    for error in failed.values():
        outermost = error.findall("errorSource")[-1]
        assert outermost.attrib == {"namespace": "MPS Import", "procedure": "ImportUser"}
    imported = [
        item.find("imported/user").get("path") for item in items if item.findtext("path") not in failed
    ]
    assert [DN.from_path(p).rdn_value for p in imported] == [
        "u0@alpineskihouse.com",
        "u1@alpineskihouse.com",
        "u2@alpineskihouse.com",
        "u3@alpineskihouse.com",
    ]
    assert [len(item.find("imported")) for item in items if item.findtext("path") not in failed] == [1] * 4
    # the rehearsal answered exactly what the real run did
    rehearsal.attrib.pop("dryRun")
    assert etree.tostring(rehearsal) == etree.tostring(response)
    check_invariants(d.sql)
    # the failed users are exactly as they were: nothing of a failed item was kept
    with d.transaction() as providers:
        for path in failed:
            entry = providers.directory.get(DN.from_path(path))
            assert "msExchQueryBaseDN" not in entry.attributes and not entry.get("memberOf")
    # after fixing one, a re-run over the new paths imports it, leaves the others as they are
    # and writes nothing again for the users already imported
    with d.transaction() as providers:
        providers.directory.modify(DN.from_path(unsized), [Change.replace("mDBOverQuotaLimit", "10000")])
    again = ok(d.submit(bulk_import([*imported, unsized, foreign, huge])))
    still = {
        item.findtext("path")
        for item in again.findall("data/users/user")
        if item.find("errorContext") is not None
    }
    assert still == {foreign, huge}


def test_departments_inherit_their_organization(exchange: Deployment) -> None:
    d = exchange
    sales, east = org_path("WH", "alpineskihouse", "Sales"), org_path("WH", "alpineskihouse", "Sales", "East")
    bare_ou(d, sales, nTSecurityDescriptor=["D:P(A;;RP;;;AU)"])  # readable by everyone, as left
    bare_ou(d, east)
    response = ok(d.submit(imp("ImportOrganization", path=sales)))  # policy by its place: a department
    org = response.find("data/org")
    assert (org.get("type"), org.get("name")) == ("department", "Sales")
    assert org.find("otherWellKnownObjects/obj").attrib == {"wkName": "ThisOrganizationRoot", "name": ALPINE}
    ok(d.submit(imp("ImportOrganization", path=east, policyName="default")))
    with d.transaction() as providers:
        for path in (sales, east):
            entry = providers.directory.get(DN.from_path(path))
            assert entry.first("nTSecurityDescriptor") is None  # no security of its own: the org's reaches it
            assert providers.directory.well_known(entry, "ThisOrganizationRoot") == DN.from_path(ALPINE)
            assert providers.org_chain(DN.from_path(path))[0].dn == DN.from_path(ALPINE)
    before = snapshot(d)
    ok(d.submit(imp("ImportOrganization", path=sales)))
    assert snapshot(d) == before  # idempotent
    # no customer record of its own, and it cannot be made an organization
    refused(d, imp("EnableCustomerForPlans", path=sales), "0x80070057", "neither an organization")
    refused(
        d, imp("ImportOrganization", path=east, policyName="customer"), "0x80070057", "not in the right place"
    )
    # its users are the organization's users
    path = migrated_user(
        d, "Sam Sales", "sam@alpineskihouse.com", under=east, homeMDB=[STORE_DN], mDBOverQuotaLimit=["10000"]
    )
    imported = ok(d.submit(imp("ImportUser", path=path, isAdmin=False, planName="BaseMail")))
    new_path = imported.find("data/user").get("path")
    assert new_path == f"LDAP://CN=sam@alpineskihouse.com,{east[7:]}"
    view = user_view(d, new_path, "sam")
    assert view["groups"] == [f"LDAP://CN=AllUsers@alpineskihouse,CN=_Private,{ALPINE[7:]}"]
    assert view["msExchQueryBaseDN"] is not None
    listed = ok(d.submit(he("GetBusinessUsers", path=ALPINE)))
    assert new_path in {u.get("path") for u in listed.iter("user")}
    # a user inside _Private is still not in the right place
    private_user = migrated_user(
        d, "hidden", "hidden@alpineskihouse.com", under=f"LDAP://CN=_Private,{ALPINE[7:]}"
    )
    refused(d, imp("ImportUser", path=private_user, isAdmin=False), "0x80070057", "not in the right place")


def test_users_in_a_department_keep_their_organization_from_being_deleted(deployment: Deployment) -> None:
    """A department's users are the organization's users: DeleteBusinessOrganization counts them
    too, not only the organization's direct children."""
    from support import make_alpineskihouse

    d = deployment
    make_alpineskihouse(d)
    sales, east = org_path("WH", "alpineskihouse", "Sales"), org_path("WH", "alpineskihouse", "Sales", "East")
    for department in (sales, east):
        bare_ou(d, department)
        ok(d.submit(imp("ImportOrganization", path=department)))
    path = migrated_user(d, "Sam Sales", "sam@alpineskihouse.com", under=east)
    user = ok(d.submit(imp("ImportUser", path=path, isAdmin=False))).find("data/user").get("path")
    refused(
        d, he("DeleteBusinessOrganization", path=ALPINE), "0x80072015", "still has users", "OU=East,OU=Sales"
    )
    ok(d.submit(he("DeleteBusinessUser", path=user)))
    ok(d.submit(he("DeleteBusinessOrganization", path=ALPINE)))


def test_a_moved_mailbox_is_followed_on_repair(exchange: Deployment) -> None:
    from support import check_invariants

    d = exchange
    path = migrated_user(
        d, "mover", "mover@alpineskihouse.com", homeMDB=[STORE_DN], mDBOverQuotaLimit=["8000"]
    )
    new_path = ok(d.submit(imp("ImportUser", path=path, isAdmin=False))).find("data/user").get("path")
    # Exchange moves the mailbox to the other server's store: the directory says so, the ledger not yet
    moved_to = STORE_DN.replace("BusinessMailStore1", "BusinessMailStore2").replace("EXBE01", "EXBE02")
    with d.transaction() as providers:
        providers.directory.modify(DN.from_path(new_path), [Change.replace("homeMDB", moved_to)])
    response = ok(d.submit(imp("AllocateExistingMailbox", path=new_path)))
    assert [
        response.findtext(f"data/mailStore/{n}") for n in ("serverName", "mailStoreName", "kilobytes")
    ] == [
        "EXBE02",
        "BusinessMailStore2",
        "8000",
    ]
    allocation = ok(
        d.submit(request_xml("Exchange Resource Manager", "QueryMailboxAllocation", mailbox=new_path))
    )
    assert allocation.findtext("data/mailStore/mailStoreName") == "BusinessMailStore2"
    check_invariants(d.sql)
    before = snapshot(d)
    ok(d.submit(imp("ImportUser", path=new_path, isAdmin=False)))  # and again: nothing to do
    assert snapshot(d) == before


def test_a_consumer_organization_is_imported_as_consumers_container(d: Deployment) -> None:
    from support import mail_stores, rm

    bare_ou(d, org_path("R5"))
    ok(d.submit(hadi("ImportResellerOrganization", organization=org_path("R5"))))
    bare_ou(d, org_path("R5", "homes"), uPNSuffixes=["homes.example"])
    ok(
        d.submit(
            hadi("ImportConsumerOrganization", organization=org_path("R5", "homes"), planName="ConsumerMail")
        )
    )
    ok(
        d.submit(
            he("CreateBusinessOrganization", container=org_path("R5"), name="made", SMTPDomain="made.example")
        )
    )
    assert shape(d, org_path("R5", "homes")) == shape(d, org_path("R5", "made"))
    ok(d.submit(rm("AddExchangeResources", consumerMailStores=mail_stores(("EXC01", "C1", 100, True)))))
    consumer = he(
        "CreateConsumerUser",
        container=org_path("R5", "homes"),
        userPrincipalName="ann@homes.example",
        sAMAccountName="c_ann",
        planName="ConsumerMail",
    )
    ok(d.submit(consumer))
    refused(
        d,
        hadi("ImportConsumerOrganization", organization=org_path("R5", "homes")),
        "0x80071392",
        "already under management",
    )
    refused(d, hadi("ImportConsumerOrganization", organization=org_path("R5", "nowhere")), "0x80072030")
