"""The DACL is enforced on top of the role: a caller holding the role is still refused when the
target's DACL (or the inherited ones) does not grant the right, as AD enforces it."""

from __future__ import annotations

from openmps.directory import acl
from openmps.directory.acl import Ace, Right
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.types import DN
from support import World, he, ok, org_path

ALPINE = org_path("WH", "alpineskihouse")


def edit_dacl(world: World, dn: DN, edit: object) -> None:
    with world.deployment.transaction() as providers:
        directory = providers.directory
        dacl = edit(directory.dacl_of(directory.get(dn)))  # type: ignore[operator]
        directory.modify(dn, [Change.replace(SECURITY_DESCRIPTOR, acl.to_sddl(dacl))])


def create_user(world: World, persona: str, upn: str) -> object:
    return world.submit(
        he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False), persona
    )


def test_customer_admin_needs_create_child_from_the_dacl(world: World) -> None:
    ok(create_user(world, "customer_admin", "one@alpineskihouse.com"))  # type: ignore[arg-type]
    admins = world.callers["customer_admin"]
    assert admins is not None
    alpine = DN.from_path(ALPINE)
    admins_sid = world.deployment.read(lambda d: d.get(alpine.child("CN", "Admins@alpineskihouse")).sid)
    # remove every ACE of Admins@alpineskihouse: the role is still held, the right is gone
    edit_dacl(world, alpine, lambda dacl: dacl.without(lambda ace: ace.trustee == admins_sid))
    outcome = create_user(world, "customer_admin", "two@alpineskihouse.com")
    assert outcome.error is not None  # type: ignore[attr-defined]
    assert outcome.error.hex_code == "0x80070005"  # type: ignore[attr-defined]
    assert "does not grant DS_CREATE_CHILD" in outcome.error.description  # type: ignore[attr-defined]
    # the reseller admin's inherited rights are untouched
    ok(create_user(world, "reseller_admin", "three@alpineskihouse.com"))  # type: ignore[arg-type]


def test_an_explicit_deny_beats_inherited_full_control(world: World) -> None:
    reseller_admin = world.callers["reseller_admin"]
    assert reseller_admin is not None
    alpine = DN.from_path(ALPINE)
    wh_admins_sid = world.deployment.read(
        lambda d: d.get(DN.from_path(org_path("WH")).child("CN", "Admins@WH")).sid
    )
    edit_dacl(world, alpine, lambda dacl: dacl.with_ace(Ace.deny(wh_admins_sid, Right.DS_CREATE_CHILD)))
    outcome = create_user(world, "reseller_admin", "four@alpineskihouse.com")
    assert outcome.error is not None and outcome.error.hex_code == "0x80070005"  # type: ignore[attr-defined]
    # reading is not denied
    ok(world.submit(he("GetBusinessUsers", path=ALPINE), "reseller_admin"))


def test_delete_child_on_the_parent_allows_deleting(world: World) -> None:
    """The customer admin has DS_DELETE_CHILD on the org, not DELETE on the user: AD's rule."""
    worker = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
    ok(world.submit(he("DeleteBusinessUser", path=worker), "customer_admin"))
