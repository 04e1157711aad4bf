"""Managed Active Directory reads: GetThisOrganizationRoot, GetForeignOwnerOrg,
GetOtherWellKnownObject, GetCallerUIRoles (also under Hosted Active Directory)."""

from __future__ import annotations

import pytest

from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl, Right
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.types import DN
from support import HOSTING, World, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
WH = org_path("WH")
MAD = "Managed Active Directory"
WORKER = DN.from_path(ALPINE).child("CN", "worker@alpineskihouse.com").ldap_path


def mad(procedure: str, /, **args: object) -> str:
    return request_xml(MAD, procedure, **args)


def norm(path: str | None) -> str:
    return DN.from_path(path or "").norm


def test_this_organization_root_of_a_user_an_org_and_a_private_container(world: World) -> None:
    private = DN.from_path(ALPINE).child("CN", "_Private").ldap_path
    for path in (WORKER, ALPINE, private):
        found = ok(world.submit(mad("GetThisOrganizationRoot", path=path), "user")).find("data/organization")
        assert found is not None and norm(found.get("path")) == norm(ALPINE)
        assert (found.get("name"), found.get("type")) == ("alpineskihouse", "customer")
    reseller = ok(world.submit(mad("GetThisOrganizationRoot", path=WH))).find("data/organization")
    assert reseller is not None and reseller.get("type") == "reseller"


def test_foreign_owner_of_a_customer_is_its_reseller_and_of_a_reseller_hosting(world: World) -> None:
    owner = ok(world.submit(mad("GetForeignOwnerOrg", path=ALPINE), "customer_admin")).find(
        "data/organization"
    )
    assert owner is not None and norm(owner.get("path")) == norm(WH) and owner.get("type") == "reseller"
    top = ok(world.submit(mad("GetForeignOwnerOrg", path=WH))).find("data/organization")
    assert top is not None and norm(top.get("path")) == norm(HOSTING) and top.get("type") == "hosting"
    refused(world, mad("GetForeignOwnerOrg", path=WORKER), "0x80070057", "is not an organization")


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("UserCreators", "CN=Admins@alpineskihouse," + ALPINE[7:]),
        ("ChildOrgCreators", "CN=CSRAdmins@alpineskihouse," + ALPINE[7:]),
        ("OrgType", "CN=customer,CN=WatOrgTypes,CN=_Private,OU=Hosting,DC=fabrikam,DC=com"),
        ("MultiGroupPointer", "CN=MultiGroup,CN=_Private," + ALPINE[7:]),
        ("ThisOrganizationRoot", ALPINE[7:]),
    ],
)
def test_other_well_known_object(world: World, name: str, target: str) -> None:
    response = ok(world.submit(mad("GetOtherWellKnownObject", path=ALPINE, wkName=name), "user"))
    found = response.find("data/otherWellKnownObject")
    assert found is not None and found.get("wkName") == name
    assert norm(found.get("name")) == DN.parse(target).norm


def test_other_well_known_object_refusals(world: World) -> None:
    refused(world, mad("GetOtherWellKnownObject", path=ALPINE, wkName="Nope"), "0x80072030", "'Nope'")
    refused(world, mad("GetOtherWellKnownObject", path=WORKER, wkName="OrgType"), "0x80072030", "OrgType")
    # another tenant's object: the same answer as a missing one
    contoso = org_path("WH", "contoso")
    outcome = world.submit(mad("GetOtherWellKnownObject", path=contoso, wkName="OrgType"), "customer_admin")
    assert outcome.error is not None and outcome.error.hex_code == "0x80072030"


def _ui_groups(world: World, grants: dict[str, list[str]]) -> None:
    """WatUIPermissions with groups whose DACL grants READ_CONTROL to the given groups, as
    Managed Helpers::InitializeADForHosting lays them out."""
    with world.deployment.transaction() as providers:
        directory = providers.directory
        container = providers.layout.ui_permissions
        directory.add(container, {"objectClass": ["top", "container"], "cn": ["WatUIPermissions"]})
        for name, holders in grants.items():
            sids = [directory.get(DN.from_path(h)).sid for h in holders]
            dacl = Dacl(tuple(Ace.grant(sid, Right.READ_CONTROL) for sid in sids))
            directory.add(
                container.child("CN", name),
                {"objectClass": ["top", "group"], "cn": [name], SECURITY_DESCRIPTOR: [acl.to_sddl(dacl)]},
                builtin=True,
            )


@pytest.mark.parametrize("namespace", [MAD, "Hosted Active Directory"])
def test_caller_ui_roles_are_the_groups_it_may_read(world: World, namespace: str) -> None:
    document = request_xml(namespace, "GetCallerUIRoles")
    assert ok(world.submit(document, "customer_admin")).findall("data/roles/role") == []
    admins = "LDAP://CN=Admins@alpineskihouse," + ALPINE[7:]
    _ui_groups(world, {"0000": [], "1000": [admins], "5000": [admins]})
    roles = ok(world.submit(document, "customer_admin")).findall("data/roles/role")
    assert [r.get("name") for r in roles] == ["1000", "5000"]
    assert ok(world.submit(document, "user")).findall("data/roles/role") == []
    everything = ok(world.submit(document)).findall("data/roles/role")  # Domain Admins read every DACL
    assert [r.get("name") for r in everything] == ["0000", "1000", "5000"]
