"""Managed Helpers: the UI role groups (InitializeADForHosting) and service pointers."""

from __future__ import annotations

from openmps.directory import acl
from openmps.types import DN
from support import World, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
UI = "CN=WatUIPermissions,CN=_Private,OU=Hosting,DC=fabrikam,DC=com"


def helpers(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Helpers", procedure, **args)


def test_ui_role_groups_are_made_once_readable_by_their_members_only(world: World) -> None:
    d = world.deployment
    made = ok(d.submit(helpers("InitializeADForHosting")))
    groups = [g.text for g in made.iterfind("data/groups/group")]
    assert groups == [f"LDAP://CN={n},{UI}" for n in ("0000", "0100", "0500", "1000", "2000", "5000", "6000")]
    with d.transaction() as providers:
        directory = providers.directory
        group = DN.parse(f"CN=1000,{UI}")
        entry = directory.get(group)
        member = directory.holder("userPrincipalName", "worker@alpineskihouse.com")
        assert member is not None
        worker = world.callers["user"]
        assert worker is not None
        assert not directory.check_access(worker.token, group, acl.Right.READ_CONTROL)
        assert directory.check_access(worker.token | {entry.sid}, group, acl.Right.READ_CONTROL)
        # a changed DACL is put back by running it again
        from openmps.directory.interface import Change

        directory.modify(group, [Change.replace("nTSecurityDescriptor", "D:(A;;GA;;;WD)")])
    again = ok(d.submit(helpers("InitializeADForHosting")))
    assert [g.text for g in again.iterfind("data/groups/group")] == groups
    with d.transaction() as providers:
        assert not providers.directory.check_access(
            worker.token, DN.parse(f"CN=1000,{UI}"), acl.Right.READ_CONTROL
        )
    denied = world.submit(helpers("InitializeADForHosting"), "hosting_admin")
    assert denied.error is not None and denied.error.hex_code == "0x80070005"


def test_a_service_pointer_names_a_name_once(world: World) -> None:
    d = world.deployment
    made = ok(
        d.submit(
            helpers(
                "CreateServicePointer",
                organization=ALPINE,
                serviceType="Services",
                name="Portal.AlpineSkiHouse.com",
            )
        )
    )
    pointer = made.find("data/servicePointer")
    assert pointer is not None
    assert pointer.get("path") == f"LDAP://CN=portal.alpineskihouse.com,CN=Services,CN=_Private,{ALPINE[7:]}"
    assert pointer.get("serviceClassName") == "Services"
    # named once: neither again nor by another organization, nor a name another one holds
    refused(
        world,
        helpers(
            "CreateServicePointer", organization=ALPINE, serviceType="Web", name="portal.alpineskihouse.com"
        ),
        "0x8007202F",
        "already",
    )
    refused(
        world,
        helpers(
            "CreateServicePointer", organization=CONTOSO, serviceType="Services", name="alpineskihouse.com"
        ),
        "0x8007202F",
    )
    refused(
        world,
        helpers("CreateServicePointer", organization=ALPINE, serviceType="SIPDomains", name="x.example"),
        "0x80131509",
        "Managed Office Communications Server",
    )
    refused(
        world,
        helpers("CreateServicePointer", organization=ALPINE, serviceType="CN=x,OU=y", name="x.example"),
        "0x80070057",
        "'serviceType'",
    )
    refused(
        world,
        helpers("CreateServicePointer", organization=ALPINE, serviceType="Services", name="not a name"),
        "0x80070057",
    )
    refused(
        world,
        helpers("CreateServicePointer", organization=ALPINE, serviceType="Services", name="fabrikam.com"),
        "0x8007202F",
        "provider",
    )
    refused(
        world,
        helpers("DeleteServicePointer", organization=ALPINE, serviceType="Services", name="other.example"),
        "0x80072030",
        "no service pointer",
    )
    ok(
        d.submit(
            helpers(
                "DeleteServicePointer",
                organization=ALPINE,
                serviceType="Services",
                name="portal.alpineskihouse.com",
            )
        )
    )
    ok(
        d.submit(
            helpers(
                "CreateServicePointer",
                organization=CONTOSO,
                serviceType="Services",
                name="portal.alpineskihouse.com",
            )
        )
    )
    denied = world.submit(
        helpers("CreateServicePointer", organization=ALPINE, serviceType="Services", name="a.example"),
        "customer_admin",
    )
    assert denied.error is not None and denied.error.hex_code == "0x80070005"
