"""Password policy, ``{ARGON2}`` hashing and verification, and sign-in through the authenticator."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from openmps.app import Deployment
from openmps.delegation.passwords import MAX_LENGTH, MIN_LENGTH, SCHEME, Passwords
from openmps.directory.interface import Change
from openmps.errors import InvalidArgument, NotAuthenticated, PasswordPolicyViolation
from openmps.types import DN, Secret
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    fast_passwords,
    he,
    make_alpineskihouse,
    ok,
    org_path,
)

ORG = org_path("WH", "alpineskihouse")


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return fast_passwords()


def violation(passwords: Passwords, password: str, *names: str) -> PasswordPolicyViolation:
    with pytest.raises(PasswordPolicyViolation) as info:
        passwords.check_policy(Secret(password), account_names=names)
    error = info.value
    assert type(error) is PasswordPolicyViolation and isinstance(error, InvalidArgument)
    assert error.hex_code == "0x800708C5"
    assert not password or password not in error.description
    return error


# --- policy ------------------------------------------------------------------------------------------


def test_bounds() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (8, 256)


@pytest.mark.parametrize("password", ["", "Ab1!", "Ab1!xyz", "Ab1!" + "x" * (MAX_LENGTH - 3)])
def test_length_is_refused(passwords: Passwords, password: str) -> None:
    error = violation(passwords, password)
    assert error.fields == {"rule": "length"}
    assert "8 to 256 characters" in error.description


@pytest.mark.parametrize("password", ["Ab1!xyzw", "Ab1!" + "x" * (MAX_LENGTH - 4)])
def test_length_bounds_are_inclusive(passwords: Passwords, password: str) -> None:
    passwords.check_policy(Secret(password))


@pytest.mark.parametrize(
    "password",
    ["abcdefghij", "ABCDEFGHIJ", "1234567890", "!@#$%^&*()", "abcdeFGHIJ", "abcde12345", "ABCDE!@#$%"],
)
def test_fewer_than_three_classes_is_refused(passwords: Passwords, password: str) -> None:
    error = violation(passwords, password)
    assert error.fields == {"rule": "complexity"}
    assert "three of" in error.description


@pytest.mark.parametrize(
    "password",
    ["abcdEFG1", "abcd123!", "ABCD123!", "abcdEFG!", "Pass1Word", "pässwörT1", "Ünïcode-Wört"],
)
def test_three_classes_suffice(passwords: Passwords, password: str) -> None:
    passwords.check_policy(Secret(password))


def test_nul_is_refused(passwords: Passwords) -> None:
    error = violation(passwords, "Abc1!\x00xyz")
    assert error.fields == {"rule": "characters"}
    assert "NUL" in error.description


@pytest.mark.parametrize(
    ("password", "names"),
    [
        ("xxCAROL2024!", ("carol",)),
        ("Carol2024!", ("carol", "")),
        ("My-zebra42-Pw", ("nobody", "ZEBRA42")),
        ("bob-Is-1-name", ("bob",)),
    ],
)
def test_account_name_is_refused_case_insensitively(
    passwords: Passwords, password: str, names: tuple[str, ...]
) -> None:
    error = violation(passwords, password, *names)
    assert error.fields == {"rule": "name"}
    assert "account name" in error.description


@pytest.mark.parametrize("names", [("ab",), ("",), ("x",), ("carol",)])
def test_short_or_absent_names_are_not_checked(passwords: Passwords, names: tuple[str, ...]) -> None:
    passwords.check_policy(Secret("ab-XY-12-x"), account_names=names)


# --- hashing -----------------------------------------------------------------------------------------


def test_hash_is_argon2id_with_the_scheme_prefix(passwords: Passwords) -> None:
    stored = passwords.hash(Secret(USER_PASSWORD))
    assert SCHEME == "{ARGON2}"
    assert stored.startswith("{ARGON2}$argon2id$")
    assert USER_PASSWORD not in stored


def test_default_hasher_is_argon2id() -> None:
    stored = Passwords().hash(Secret(USER_PASSWORD))
    assert stored.startswith("{ARGON2}$argon2id$v=19$")
    assert Passwords().verify(stored, USER_PASSWORD)


def test_hashes_are_salted(passwords: Passwords) -> None:
    assert passwords.hash(Secret(USER_PASSWORD)) != passwords.hash(Secret(USER_PASSWORD))


def test_verify(passwords: Passwords) -> None:
    stored = passwords.hash(Secret(USER_PASSWORD))
    assert passwords.verify(stored, USER_PASSWORD) is True
    assert passwords.verify(stored, USER_PASSWORD.lower()) is False
    assert passwords.verify(stored, USER_PASSWORD + " ") is False
    assert passwords.verify(stored, "") is False


@pytest.mark.parametrize(
    "stored",
    [None, "", "{ARGON2}", "{ARGON2}garbage", "{argon2}$argon2id$x", "{SSHA}abcdef", USER_PASSWORD],
)
def test_verify_refuses_anything_but_an_argon2_hash(passwords: Passwords, stored: str | None) -> None:
    assert passwords.verify(stored, USER_PASSWORD) is False


def test_verify_refuses_a_bare_phc_hash_without_the_prefix(passwords: Passwords) -> None:
    bare = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(USER_PASSWORD)
    assert passwords.verify(bare, USER_PASSWORD) is False
    assert passwords.verify(SCHEME + bare, USER_PASSWORD) is True


# --- authentication ----------------------------------------------------------------------------------

FAILURE = "logon failure: unknown user name or bad password"


@pytest.fixture
def org(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment)
    ok(
        deployment.submit(
            he(
                "CreateBusinessUser",
                container=ORG,
                userPrincipalName="bob@alpineskihouse.com",
                isAdmin=False,
                newPassword=USER_PASSWORD,
            )
        )
    )
    ok(  # no password: the account is created disabled
        deployment.submit(
            he(
                "CreateBusinessUser",
                container=ORG,
                userPrincipalName="idle@alpineskihouse.com",
                isAdmin=False,
            )
        )
    )
    return deployment


def refused_sign_in(d: Deployment, upn: str, password: str) -> None:
    with pytest.raises(NotAuthenticated) as info:
        d.authenticator.authenticate(upn, password)
    assert type(info.value) is NotAuthenticated
    assert info.value.hex_code == "0x8007052E"
    assert info.value.description == FAILURE
    assert not password or password not in info.value.description


def test_right_password_signs_in(org: Deployment) -> None:
    caller = org.authenticator.authenticate("bob@alpineskihouse.com", USER_PASSWORD)
    assert caller.name == "bob@alpineskihouse.com"
    assert caller.dn == DN.from_path(ORG).child("CN", "bob@alpineskihouse.com")
    admin = org.authenticator.authenticate("administrator@fabrikam.com", ADMIN_PASSWORD)
    assert admin.dn == org.layout.administrator


@pytest.mark.parametrize(
    ("upn", "password"),
    [
        ("bob@alpineskihouse.com", "Wr0ng-Password"),
        ("bob@alpineskihouse.com", ""),
        ("bob@alpineskihouse.com", USER_PASSWORD.lower()),
        ("idle@alpineskihouse.com", USER_PASSWORD),
        ("idle@alpineskihouse.com", ""),
        ("nobody@alpineskihouse.com", USER_PASSWORD),
        ("nobody@nowhere.example", USER_PASSWORD),
        ("not a upn", USER_PASSWORD),
        ("", ""),
        ("*@alpineskihouse.com", USER_PASSWORD),
        ("administrator@fabrikam.com", USER_PASSWORD),
    ],
    ids=[
        "wrong",
        "empty",
        "case",
        "disabled",
        "disabled-empty",
        "unknown",
        "unknown-domain",
        "malformed",
        "nothing",
        "wildcard",
        "other-users-password",
    ],
)
def test_every_failure_is_the_same_not_authenticated(org: Deployment, upn: str, password: str) -> None:
    refused_sign_in(org, upn, password)


def test_disabled_account_with_a_hash_still_cannot_sign_in(org: Deployment) -> None:
    """The disabled flag alone refuses: give the disabled account a valid hash behind the API's back."""
    dn = DN.from_path(ORG).child("CN", "idle@alpineskihouse.com")
    with org.transaction() as providers:
        providers.directory.modify(
            dn, [Change.add("userPassword", org.passwords.hash(Secret(USER_PASSWORD)))]
        )
    refused_sign_in(org, "idle@alpineskihouse.com", USER_PASSWORD)
    # clearing the disabled flag (0x2) is what lets it in
    with org.transaction() as providers:
        providers.directory.modify(dn, [Change.replace("userAccountControl", "512")])
    assert org.authenticator.authenticate("idle@alpineskihouse.com", USER_PASSWORD).dn == dn


def test_a_successful_sign_in_does_not_open_the_door_to_a_wrong_password(org: Deployment) -> None:
    org.authenticator.authenticate("bob@alpineskihouse.com", USER_PASSWORD)
    refused_sign_in(org, "bob@alpineskihouse.com", "Wr0ng-Password")
    refused_sign_in(org, "bob@alpineskihouse.com", USER_PASSWORD + "x")


def test_unknown_accounts_cost_a_verification_too(deployment: Deployment) -> None:
    """No user probing by timing: an unknown UPN is checked against a decoy hash."""
    calls: list[str] = []
    passwords = deployment.passwords
    original = passwords.verify

    def counting(stored: str | None, password: str, **gate: Any) -> bool:
        calls.append(password)
        return original(stored, password, **gate)

    passwords.verify = counting  # type: ignore[method-assign]
    with pytest.raises(NotAuthenticated):
        deployment.authenticator.authenticate("nobody@alpineskihouse.com", "Whatever1!")
    assert calls == ["Whatever1!"]
