"""openmps backup / restore of a deployment whose directory is an OpenLDAP server: the server's
entries exported beside the store's copy, taken while users are created, and restored onto another,
empty server, where every entry is found as it was and a restored user signs in."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ldap_deployment import server_snapshot, wipe
from typer.testing import CliRunner

import openmps.backup
from openmps.app import Deployment, DirectoryServerChoice, init_deployment
from openmps.backup import DIRECTORY_FILE, MANIFEST, Manifest, backup, restore
from openmps.cli.main import app
from openmps.directory.interface import Change
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.types import Secret
from support import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    DirectoryServer,
    create_database,
    create_user,
    fast_passwords,
    he,
    make_alpineskihouse,
    org_path,
    snapshot,
)

ALPINE = org_path("WH", "alpineskihouse")


def choice(server: DirectoryServer) -> DirectoryServerChoice:
    return DirectoryServerChoice(server.url, server.bind_dn, server.password_file)


def on_server(server: DirectoryServer, home: Path, url: str | None = None) -> Deployment:
    """A new deployment for fabrikam.com whose directory is ``server`` (emptied first)."""
    wipe(server)
    return init_deployment(
        home,
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        url=url,
        directory=choice(server),
    )


@pytest.fixture
def deployment(
    openldap_fabrikam: DirectoryServer, openldap_fabrikam_spare: DirectoryServer, tmp_path: Path
) -> Iterator[Deployment]:
    wipe(openldap_fabrikam_spare)
    made = on_server(openldap_fabrikam, tmp_path / "home")
    make_alpineskihouse(made)
    create_user(made, ALPINE, "ann@alpineskihouse.com")
    yield made
    made.close_directory()
    for server in (openldap_fabrikam, openldap_fabrikam_spare):
        wipe(server)


def test_a_backup_restored_onto_an_empty_server_holds_every_entry(
    deployment: Deployment,
    openldap_fabrikam: DirectoryServer,
    openldap_fabrikam_spare: DirectoryServer,
    tmp_path: Path,
) -> None:
    manifest = backup(deployment, tmp_path / "backup")
    source = server_snapshot(openldap_fabrikam)
    assert manifest.directory_entries == len(source) > 20
    assert {p.name for p in (tmp_path / "backup").iterdir()} == {"openmps.db", DIRECTORY_FILE, MANIFEST}
    assert Manifest.read(tmp_path / "backup") == manifest
    restored = restore(tmp_path / "backup", tmp_path / "restored", directory=choice(openldap_fabrikam_spare))
    try:
        # every entry, every attribute value, byte for byte (objectGUID and objectSid binary)
        assert server_snapshot(openldap_fabrikam_spare) == source
        assert restored.directory_server is not None
        assert restored.directory_server.url == openldap_fabrikam_spare.url
        assert restored.authenticator.authenticate("ann@alpineskihouse.com", USER_PASSWORD)
        deployment_tables, restored_tables = snapshot(deployment), snapshot(restored)
        del deployment_tables["settings"], restored_tables["settings"]  # they name their own server
        assert restored_tables == deployment_tables
        # the restored deployment works on its server: a new user there, none on the first
        create_user(restored, ALPINE, "new@alpineskihouse.com")
        assert len(server_snapshot(openldap_fabrikam_spare)) > len(server_snapshot(openldap_fabrikam))
    finally:
        restored.close_directory()


def test_a_backup_taken_while_users_are_created_is_one_state(
    deployment: Deployment,
    openldap_fabrikam_spare: DirectoryServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each request is in both parts or in neither: every user the export holds has its customer
    record in the store's copy, and every customer record its user.  The export is made slow (as a
    large directory's is), so writers unheld would commit between it and the store's copy."""
    export = openmps.backup._export_directory

    def slow_export(d: Deployment, target: Path) -> int | None:
        count = export(d, target)
        time.sleep(0.5)
        return count

    monkeypatch.setattr(openmps.backup, "_export_directory", slow_export)
    stop = threading.Event()
    made: list[int] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            outcome = deployment.submit(
                he(
                    "CreateBusinessUser",
                    container=ALPINE,
                    userPrincipalName=f"w{i}@alpineskihouse.com",
                    isAdmin=False,
                )
            )
            if outcome.ok:  # a request that waited past the busy timeout is refused, nothing written
                made.append(i)
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(made) < 3:
            threading.Event().wait(0.01)
        backup(deployment, tmp_path / "backup")
        while len(made) < 6:  # and the writer went on after it
            threading.Event().wait(0.01)
    finally:
        stop.set()
        writer.join()
    restored = restore(tmp_path / "backup", tmp_path / "restored", directory=choice(openldap_fabrikam_spare))
    try:
        with restored.transaction() as providers:
            holders = {
                i: providers.directory.holder("userPrincipalName", f"w{i}@alpineskihouse.com") for i in made
            }
            there = {i for i, dn in holders.items() if dn is not None}
            assert 3 <= len(there) < len(made)
            for i in there:
                holder = holders[i]
                assert holder is not None
                assert providers.plans.customer(providers.directory.get(holder).guid) is not None
            customers = {c.name for c in providers.plans.customers()}
            assert {f"w{i}@alpineskihouse.com" for i in made} & customers == {
                f"w{i}@alpineskihouse.com" for i in there
            }
    finally:
        restored.close_directory()


def test_restore_refusals_change_nothing(
    deployment: Deployment,
    openldap_fabrikam: DirectoryServer,
    openldap_fabrikam_spare: DirectoryServer,
    tmp_path: Path,
) -> None:
    backup(deployment, tmp_path / "backup")
    with pytest.raises(InvalidArgument, match="give the server to restore them into"):
        restore(tmp_path / "backup", tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    before = server_snapshot(openldap_fabrikam)
    with pytest.raises(InvalidOperation, match="already on the target directory server"):
        restore(tmp_path / "backup", tmp_path / "restored", directory=choice(openldap_fabrikam))
    assert not (tmp_path / "restored").exists()
    assert server_snapshot(openldap_fabrikam) == before
    # an entry the target refuses halfway through the load: what was loaded before it is removed
    with (tmp_path / "backup" / DIRECTORY_FILE).open("a") as export:
        export.write("\ndn: CN=Odd,DC=fabrikam,DC=com\nobjectClass: noSuchClass\ncn: Odd\n")
    with pytest.raises(InvalidArgument, match="CN=Odd"):
        restore(tmp_path / "backup", tmp_path / "restored", directory=choice(openldap_fabrikam_spare))
    assert not (tmp_path / "restored").exists()
    assert server_snapshot(openldap_fabrikam_spare) == {}


def test_the_cli_backs_up_and_restores_with_the_server(
    deployment: Deployment, openldap_fabrikam_spare: DirectoryServer, tmp_path: Path
) -> None:
    home = str(tmp_path / "home")
    done = CliRunner().invoke(app, ["--home", home, "backup", str(tmp_path / "backup")])
    assert done.exit_code == 0 and "(sqlite and the directory server)" in done.output, done.output
    server = [
        "--directory",
        openldap_fabrikam_spare.url,
        "--directory-bind-dn",
        openldap_fabrikam_spare.bind_dn,
    ]
    target = ["--home", str(tmp_path / "restored"), "restore", str(tmp_path / "backup")]
    alone = CliRunner().invoke(app, [*target, *server])
    assert alone.exit_code == 1 and "--directory-password-file" in alone.output
    done = CliRunner().invoke(
        app, [*target, *server, "--directory-password-file", str(openldap_fabrikam_spare.password_file)]
    )
    assert done.exit_code == 0 and "Restored fabrikam.com" in done.output, done.output
    assert openldap_fabrikam_spare.password not in done.output


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_backup_waits_for_a_transaction_writing_to_the_server(
    store: str,
    request: pytest.FixtureRequest,
    openldap_fabrikam: DirectoryServer,
    openldap_fabrikam_spare: DirectoryServer,
    tmp_path: Path,
) -> None:
    """A transaction that has written to the server holds what the backup takes before it reads
    (the store's write lock; on PostgreSQL the directory gate): the backup waits for its end and
    then exports what it left (here, after its rollback, nothing of it)."""
    url = None
    if store == "postgresql":
        url = create_database(
            request.getfixturevalue("postgres_server"), f"ldap_backup_{uuid.uuid4().hex[:8]}"
        )
    d = on_server(openldap_fabrikam, tmp_path / "home", url)
    try:
        uow = d.open_uow()
        d.providers(uow).directory.modify(
            d.layout.administrator, [Change.replace("description", "mid-request")]
        )
        taken: list[Manifest] = []
        backing_up = threading.Thread(target=lambda: taken.append(backup(d, tmp_path / "backup")))
        backing_up.start()
        backing_up.join(1.5)
        assert backing_up.is_alive() and not taken  # it waits for the writer
        uow.rollback()
        backing_up.join(30)
        assert taken and taken[0].directory_entries == len(server_snapshot(openldap_fabrikam))
        assert b"mid-request" not in (tmp_path / "backup" / DIRECTORY_FILE).read_bytes()
    finally:
        d.close_directory()
        d.sql.dispose()
        wipe(openldap_fabrikam)
