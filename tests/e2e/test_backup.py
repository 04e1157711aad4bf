"""openmps backup / restore: a consistent copy taken while the service writes, restored into a
new home and found equal; refusals change nothing; the same on PostgreSQL with its own tools."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from openmps.app import Deployment, init_deployment
from openmps.backup import MANIFEST, Manifest, backup, restore
from openmps.db.schema import entries
from openmps.errors import InvalidArgument
from openmps.types import Secret
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    build_world,
    create_database,
    fast_passwords,
    he,
    org_path,
    snapshot,
)

# The copy of a deployment whose hosting directory is in its SQL store (the file, pg_dump): with
# OPENMPS_TEST_DIRECTORY=openldap too; a directory server's backup is tests/servers/test_ldap_backup.py's.
pytestmark = pytest.mark.sql_directory

ALPINE = org_path("WH", "alpineskihouse")


def test_a_restored_backup_equals_what_was_backed_up(world_deployment: Deployment, tmp_path: Path) -> None:
    d = world_deployment
    manifest = backup(d, tmp_path / "backup")
    assert manifest.store == "sqlite" and manifest.domain == "fabrikam.com" and manifest.entries > 50
    assert stat.S_IMODE((tmp_path / "backup").stat().st_mode) == 0o700
    assert {p.name for p in (tmp_path / "backup").iterdir()} == {"openmps.db", MANIFEST}  # no password file
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "backup").iterdir())
    restored = restore(tmp_path / "backup", tmp_path / "restored")
    assert snapshot(restored) == snapshot(d)
    caller = restored.authenticator.authenticate("boss@alpineskihouse.com", USER_PASSWORD)
    assert caller.name == "boss@alpineskihouse.com"


def test_a_restored_deployment_still_reads_its_stored_bind_passwords(
    world_deployment: Deployment, tmp_path: Path
) -> None:
    """The sync key travels with the backup: the restored home decrypts the stored connection."""
    from openmps.sync.runner import stored_connection
    from openmps.types import DN
    from support import ok, request_xml

    d = world_deployment
    connect = request_xml(
        "Service Provisioning",
        "SetSyncConnection",
        organization=ALPINE,
        sourceURL="ldaps://dc1.corp.example:636",
        bindDN="CN=sync,CN=Users,DC=corp,DC=example",
        bindPassword="Bind-pa55word!",
    )
    ok(d.submit(connect))
    backup(d, tmp_path / "backup")
    assert stat.S_IMODE((tmp_path / "backup" / "sync.key").stat().st_mode) == 0o600
    restored = restore(tmp_path / "backup", tmp_path / "restored")
    assert stat.S_IMODE((tmp_path / "restored" / "sync.key").stat().st_mode) == 0o600
    connection = stored_connection(restored, DN.from_path(ALPINE))
    assert connection is not None and connection.password.reveal() == "Bind-pa55word!"


@pytest.fixture
def world_deployment(deployment: Deployment) -> Deployment:
    build_world(deployment)
    return deployment


def test_a_backup_taken_while_users_are_created_is_consistent(
    world_deployment: Deployment, tmp_path: Path
) -> None:
    d = world_deployment
    stop = threading.Event()
    made: list[int] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            document = he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName=f"w{i}@alpineskihouse.com",
                isAdmin=False,
            )
            assert d.submit(document).ok
            made.append(i)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(made) < 5:
            threading.Event().wait(0.01)
        manifest = backup(d, tmp_path / "backup")
    finally:
        stop.set()
        writer.join()
    restored = restore(tmp_path / "backup", tmp_path / "restored")
    with restored.sql.connect() as conn:
        assert len(conn.execute(select(entries.c.id)).all()) == manifest.entries
    # every user the copy holds is whole: its AllUsers membership and its customer record came with it
    with restored.transaction() as providers:
        all_users = providers.directory.get(
            providers.org_chain(
                providers.directory.get(__import__("openmps.types", fromlist=["DN"]).DN.from_path(ALPINE)).dn
            )[0].names.all_users
        )
        members = {m.lower() for m in all_users.get("member")}
        for i in made:
            upn = f"w{i}@alpineskihouse.com"
            holder = providers.directory.holder("userPrincipalName", upn)
            if holder is None:
                continue
            assert str(holder).lower() in members
            assert providers.plans.customer(providers.directory.get(holder).guid) is not None


def test_refusals_change_nothing(world_deployment: Deployment, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match="is not empty"):
        backup(world_deployment, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidArgument, match="holds no OpenMPS backup"):
        restore(busy, tmp_path / "home2")
    assert not (tmp_path / "home2").exists()
    backup(world_deployment, tmp_path / "backup")
    with pytest.raises(InvalidArgument, match="is not empty"):
        restore(tmp_path / "backup", busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_postgresql_backs_up_with_pg_dump_and_restores_with_pg_restore(
    postgres_server: str, tmp_path: Path
) -> None:
    source = init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        url=create_database(postgres_server, "backup_source"),
        passwords=fast_passwords(),
    )
    build_world(source)
    manifest = backup(source, tmp_path / "backup")
    assert manifest.store == "postgresql" and (tmp_path / "backup" / "openmps.dump").exists()
    with pytest.raises(InvalidArgument, match="give its URL"):
        restore(tmp_path / "backup", tmp_path / "restored")
    target = create_database(postgres_server, "backup_target")
    restored = restore(tmp_path / "backup", tmp_path / "restored", url=target)
    try:
        assert snapshot(restored) == snapshot(source)
        assert Manifest.read(tmp_path / "backup").entries == manifest.entries
    finally:
        restored.sql.dispose()
        source.sql.dispose()
