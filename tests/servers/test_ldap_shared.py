"""What a process keeps of OpenLDAP across requests (the DACLs and organizations authorization
reads, ``directory/ldap/shared.py``) is trusted only under the directory's generation: a DACL
changed by another process on the same store is seen at the next request (a delegate's revoked
right refuses its next request at once), and what a rolled back change showed meanwhile is not
trusted after it, nor what a change a recovery undid did (a process killed before its commit).  Each runs with the SQL store on SQLite and on PostgreSQL (its transactions read
committed: the generation each request reads is the last one committed)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openmps.app import Deployment, DirectoryServerChoice, init_deployment, open_deployment
from openmps.directory import acl
from openmps.directory.acl import Ace, Right
from openmps.directory.interface import Change
from openmps.directory.ldap.connection import LdapConnection
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.directory.sql.generation import bump_now
from openmps.types import DN, Secret
from support import (
    ADMIN_PASSWORD,
    DirectoryServer,
    World,
    build_world,
    create_database,
    fast_passwords,
    he,
    ok,
    org_path,
    wipe_server,
)

ALPINE = org_path("WH", "alpineskihouse")
SUFFIX = "dc=fabrikam,dc=com"
DENIED = "0x80070005"

# another process (a CLI beside the service): the ACEs of a trustee removed from the org; with
# "die", killed before its commit (its intent log left for a recovery)
REVOKE = """
import os, sys
from pathlib import Path
from openmps.app import open_deployment
from openmps.directory import acl
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.directory.sql.generation import bump_now
from openmps.types import DN

d = open_deployment(Path(sys.argv[1]))
org, sid = DN.from_path(sys.argv[2]), sys.argv[3]
with d.transaction() as providers:
    directory = providers.directory
    dacl = directory.dacl_of(directory.get(org)).without(lambda ace: ace.trustee == sid)
    directory.modify(org, [Change.replace(SECURITY_DESCRIPTOR, acl.to_sddl(dacl))])
    if sys.argv[4:] == ["die"]:
        os._exit(9)
d.close_directory()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    openldap_fabrikam: DirectoryServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[World]:
    """A deployment on OpenLDAP, its SQL store (the generation's) SQLite or PostgreSQL; every other
    deployment a test opens on its home finds the same store (its database-url file)."""
    url = None
    if request.param == "postgresql":
        url = create_database(request.getfixturevalue("postgres_server"), f"openmps_shared_{tmp_path.name}")
    wipe_server(openldap_fabrikam, SUFFIX)
    server = openldap_fabrikam
    made = init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        url=url,
        directory=DirectoryServerChoice(server.url, server.bind_dn, server.password_file),
    )
    try:
        yield build_world(made)
    finally:
        made.close_directory()
        made.sql.dispose()
        wipe_server(openldap_fabrikam, SUFFIX)


def create_user(world: World, upn: str) -> Any:
    return world.submit(
        he("CreateBusinessUser", container=ALPINE, userPrincipalName=upn, isAdmin=False), "customer_admin"
    )


def assert_denied(outcome: Any) -> None:
    assert outcome.error is not None and outcome.error.hex_code == DENIED, outcome.to_bytes()


def admins_sid(d: Deployment) -> str:
    return d.read(
        lambda directory: directory.get(DN.from_path(ALPINE).child("CN", "Admins@alpineskihouse")).sid
    )


def test_a_right_revoked_by_another_process_refuses_the_next_request(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ok(create_user(world, "one@alpineskihouse.com"))
    sent: list[str] = []
    run = LdapConnection.run
    monkeypatch.setattr(
        LdapConnection, "run", lambda self, what, op: sent.append(what) or run(self, what, op)
    )
    ok(create_user(world, "two@alpineskihouse.com"))
    # the role check's groups and the org's chain and DACLs were kept: the request only wrote
    created = "LDAP://CN=two@alpineskihouse.com," + ALPINE[len("LDAP://") :]
    all_users = "LDAP://CN=AllUsers@alpineskihouse,CN=_Private," + ALPINE[len("LDAP://") :]
    assert sent == [created, all_users], sent
    revoked = subprocess.run(
        [sys.executable, "-c", REVOKE, str(tmp_path / "home"), ALPINE, admins_sid(world.deployment)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert revoked.returncode == 0, revoked.stderr
    outcome = create_user(world, "three@alpineskihouse.com")
    assert_denied(outcome)
    assert "does not grant DS_CREATE_CHILD" in outcome.error.description
    # the reseller's admins inherit their rights from WH: untouched
    ok(
        world.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="four@alpineskihouse.com",
                isAdmin=False,
            ),
            "reseller_admin",
        )
    )


def test_what_a_rolled_back_dacl_change_showed_is_not_trusted_after(world: World, tmp_path: Path) -> None:
    listing = he("GetBusinessUsers", path=ALPINE)
    ok(world.submit(listing, "customer_admin"))
    bump_now(world.deployment.sql)  # what the listing kept is stale: the next one reads the server
    other = open_deployment(tmp_path / "home", passwords=fast_passwords())  # another process's
    alpine = DN.from_path(ALPINE)
    deny = Ace.deny(admins_sid(world.deployment), Right.ACTRL_DS_LIST)
    try:
        with pytest.raises(RuntimeError), other.transaction() as providers:
            directory = providers.directory
            dacl = directory.dacl_of(directory.get(alpine)).with_ace(deny)
            directory.modify(alpine, [Change.replace(SECURITY_DESCRIPTOR, acl.to_sddl(dacl))])
            # a directory server has no isolation: the change shows before its request ends
            refused = world.submit(listing, "customer_admin")
            assert_denied(refused)
            raise RuntimeError("the request fails: its DACL change is undone")
    finally:
        other.close_directory()
        other.sql.dispose()
    ok(world.submit(listing, "customer_admin"))


@pytest.mark.parametrize("recovery", ["start", "sweep"])
def test_a_dacl_change_a_recovery_undoes_is_not_trusted_after_it(
    world: World, tmp_path: Path, recovery: str
) -> None:
    """A process dies after sending a DACL change (a deny ACE removed); another deployment's
    request meanwhile reads the server and keeps what it showed (under the generation in force: the
    dead request's bump went with its transaction); the recovery (the next start, or a
    running server's sweep) puts the ACE back and renews the generation, so that deployment's next
    request reads the DACL again and is refused."""
    d = world.deployment
    home, alpine, sid = tmp_path / "home", DN.from_path(ALPINE), admins_sid(d)
    listing = he("GetBusinessUsers", path=ALPINE)
    with d.transaction() as providers:
        directory = providers.directory
        dacl = directory.dacl_of(directory.get(alpine)).with_ace(Ace.deny(sid, Right.ACTRL_DS_LIST))
        directory.modify(alpine, [Change.replace(SECURITY_DESCRIPTOR, acl.to_sddl(dacl))])
    refused = world.submit(listing, "customer_admin")
    assert_denied(refused)
    logs = home / "directory-journal"
    live = set(logs.glob("*.log"))  # this process's own, idle
    died = subprocess.run(
        [sys.executable, "-c", REVOKE, str(home), ALPINE, sid, "die"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert died.returncode == 9, died.stderr
    assert len(set(logs.glob("*.log")) - live) == 1
    # another change of what is kept, anywhere, renews the generation: the next request reads the
    # server, which holds the dead request's DACL, and keeps it
    bump_now(d.sql)
    ok(world.submit(listing, "customer_admin"))
    if recovery == "start":
        started = open_deployment(home, passwords=fast_passwords())  # settles the log
        started.close_directory()
        started.sql.dispose()
    else:
        assert [r.undone for r in d.recover_directory(by="openmps serve's sweep")] == [1]
    assert set(logs.glob("*.log")) <= live
    refused = world.submit(listing, "customer_admin")
    assert_denied(refused)
