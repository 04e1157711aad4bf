"""Managed Active Directory accounts: EnableUser, DisableUser, ChangeUserPassword.

A user created without a password can be given one and enabled; a disabled user cannot sign in;
an administrator resets a password without the old one, a user changes its own with it.
"""

from __future__ import annotations

import pytest

from openmps.errors import NotAuthenticated
from openmps.types import DN
from support import USER_PASSWORD, World, he, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
MAD = "Managed Active Directory"
NEW = "N3w-passw0rd!"


def mad(procedure: str, /, **args: object) -> str:
    return request_xml(MAD, procedure, **args)


def user_path(upn: str, org: str = ALPINE) -> str:
    return DN.from_path(org).child("CN", upn).ldap_path


WORKER = user_path("worker@alpineskihouse.com")
BOSS = user_path("boss@alpineskihouse.com")


def signs_in(world: World, upn: str, password: str) -> bool:
    try:
        world.deployment.authenticator.authenticate(upn, password)
    except NotAuthenticated:
        return False
    return True


def test_a_user_created_without_a_password_is_given_one_and_enabled(world: World) -> None:
    upn = "late@alpineskihouse.com"
    ok(world.submit(he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False)))
    path = user_path(upn)
    refused(world, mad("EnableUser", path=path), "0x80131509", "has no password")
    ok(world.submit(mad("ChangeUserPassword", path=path, newPassword=NEW), "customer_admin"))
    assert not signs_in(world, upn, NEW)  # still disabled: enabling is its own step
    ok(world.submit(mad("EnableUser", path=path), "customer_admin"))
    assert signs_in(world, upn, NEW)


def test_a_disabled_user_cannot_sign_in_until_enabled(world: World) -> None:
    upn = "worker@alpineskihouse.com"
    assert signs_in(world, upn, USER_PASSWORD)
    ok(world.submit(mad("DisableUser", path=WORKER), "customer_admin"))
    assert not signs_in(world, upn, USER_PASSWORD)
    ok(world.submit(mad("DisableUser", path=WORKER)))  # again: nothing more to do
    ok(world.submit(mad("EnableUser", path=WORKER), "customer_admin"))
    assert signs_in(world, upn, USER_PASSWORD)


def test_an_administrator_resets_without_the_old_password(world: World) -> None:
    ok(world.submit(mad("ChangeUserPassword", path=WORKER, newPassword=NEW), "customer_admin"))
    assert signs_in(world, "worker@alpineskihouse.com", NEW)
    assert not signs_in(world, "worker@alpineskihouse.com", USER_PASSWORD)


def test_a_user_changes_its_own_with_the_old_one(world: World) -> None:
    own = mad("ChangeUserPassword", path=WORKER, newPassword=NEW)
    outcome = world.submit(own, "user")
    assert outcome.error is not None and outcome.error.hex_code == "0x80070057"
    assert "'oldPassword' is required" in outcome.error.description
    wrong = mad("ChangeUserPassword", path=WORKER, newPassword=NEW, oldPassword="Wr0ng-password")
    outcome = world.submit(wrong, "user")
    assert (
        outcome.error is not None and "'oldPassword' is not the current password" in outcome.error.description
    )
    assert signs_in(world, "worker@alpineskihouse.com", USER_PASSWORD)
    right = mad("ChangeUserPassword", path=WORKER, newPassword=NEW, oldPassword=USER_PASSWORD)
    ok(world.submit(right, "user"))
    assert signs_in(world, "worker@alpineskihouse.com", NEW)
    assert not signs_in(world, "worker@alpineskihouse.com", USER_PASSWORD)


def test_a_user_cannot_change_another_users_password(world: World) -> None:
    other = mad("ChangeUserPassword", path=BOSS, newPassword=NEW, oldPassword=USER_PASSWORD)
    outcome = world.submit(other, "user")
    assert outcome.error is not None and outcome.error.hex_code == "0x80070005"
    assert signs_in(world, "boss@alpineskihouse.com", USER_PASSWORD)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1!", "8 to 256 characters"),
        ("alllowercaseletters", "three of"),
        ("Worker-Passw0rd!", "account name"),
    ],
)
def test_the_password_policy_applies(world: World, password: str, rule: str) -> None:
    document = mad("ChangeUserPassword", path=WORKER, newPassword=password)
    refused(world, document, "0x800708C5", rule)
    assert password not in world.submit(document).to_bytes().decode()


@pytest.mark.parametrize("procedure", ["EnableUser", "DisableUser", "ChangeUserPassword"])
def test_only_business_users(world: World, procedure: str) -> None:
    extra = {"newPassword": NEW} if procedure == "ChangeUserPassword" else {}
    refused(world, mad(procedure, path=ALPINE, **extra), "0x80070057", "is not a user")
    missing = user_path("nobody@alpineskihouse.com")
    refused(world, mad(procedure, path=missing, **extra), "0x80072030", "nobody")


def test_the_new_password_is_never_echoed_or_audited(world: World) -> None:
    response = world.submit(mad("ChangeUserPassword", path=WORKER, newPassword=NEW)).to_bytes().decode()
    assert NEW not in response
    for record in world.deployment.audit.recent(20):
        assert NEW not in repr(record)
