"""The sign-in cache forgets a verified sign-in after ``ttl``: the password is checked against the
store again, so a password changed there is refused from then on."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from openmps.app import Deployment
from openmps.delegation.authn import Authenticator
from openmps.directory.interface import Change
from openmps.errors import NotAuthenticated
from openmps.types import DN, Secret
from support import USER_PASSWORD, create_user, make_alpineskihouse, org_path

TTL = 1.0
ORG = org_path("WH", "alpineskihouse")
UPN = "bob@alpineskihouse.com"


def test_a_cached_sign_in_is_verified_again_once_ttl_has_passed(deployment: Deployment) -> None:
    make_alpineskihouse(deployment)
    create_user(deployment, ORG, UPN)
    passwords = deployment.passwords
    authenticator = Authenticator(deployment.read, passwords, ttl=TTL)
    with mock.patch.object(passwords, "verify", wraps=passwords.verify) as verified:
        started = time.monotonic()
        caller = authenticator.authenticate(UPN, USER_PASSWORD)
        assert authenticator.authenticate(UPN, USER_PASSWORD) == caller
        assert time.monotonic() - started < TTL  # (the machine was not too slow to tell)
        assert verified.call_count == 1  # the second sign-in came from the cache
        # a password changed in the store (by another node, or an administrator's tool)
        with deployment.transaction() as providers:
            providers.directory.modify(
                DN.from_path(ORG).child("CN", UPN),
                [Change.replace("userPassword", passwords.hash(Secret("N3w-Passw0rd!")))],
            )
        time.sleep(max(0.0, TTL - (time.monotonic() - started) + 0.05))
        with pytest.raises(NotAuthenticated):  # expired: checked against the store again
            authenticator.authenticate(UPN, USER_PASSWORD)
        assert verified.call_count == 2
        assert authenticator.authenticate(UPN, "N3w-Passw0rd!").dn == caller.dn
