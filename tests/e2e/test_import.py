"""MPS Import: an existing OU becomes an organization exactly as Hosted Exchange makes one, and a
damaged organization is repaired; every procedure is idempotent."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from openmps.directory import acl, wellknown
from openmps.directory.interface import Change, Scope
from openmps.types import DN
from support import HOSTING, RawXml, he, ok, org_path, refused, request_xml, snapshot

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
            "0x80004001",
            ("default",),
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
