"""The files of a deployment: the data folder and the store private from creation, the initial
administrator password forgotten once used, and query parameters that cannot say two things."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from openmps.app import Deployment, open_deployment
from openmps.cli.main import app
from openmps.directory.interface import Change
from openmps.types import Secret
from openmps.web.app import create_app
from support import ADMIN_PASSWORD, HOSTING, AsgiClient, create_user, he, ok, org_path, snapshot

ADMIN = "administrator@fabrikam.com"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022), under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def init(home: Path) -> str:
    """``openmps init`` with a generated password: that password."""
    result = CliRunner().invoke(app, ["--home", str(home), "init", "--domain", "fabrikam.com"])
    assert result.exit_code == 0, result.output
    password = (home / "initial-admin-password").read_text().strip()
    assert password in result.output
    return password


@pytest.mark.usefixtures("loose_umask")
def test_the_data_folder_and_every_store_file_are_private(tmp_path: Path) -> None:
    home = tmp_path / "deployment"
    init(home)
    assert mode(home) == 0o700
    assert mode(home / "openmps.db") == 0o600
    assert mode(home / "initial-admin-password") == 0o600
    d = open_deployment(home)
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))  # the WAL is written
    names = {p.name for p in home.iterdir()}
    assert {"openmps.db", "openmps.db-wal", "openmps.db-shm"} <= names
    assert {p.name: mode(p) for p in home.iterdir()} == dict.fromkeys(names, 0o600)
    assert os.umask(0o022) == 0o022  # init put the umask back


def test_the_initial_password_is_removed_once_the_administrator_signs_in(tmp_path: Path) -> None:
    home = tmp_path / "deployment"
    password = init(home)
    d = open_deployment(home)
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))
    ok(
        d.submit(
            he("CreateBusinessOrganization", container=org_path("WH"), name="ash", SMTPDomain="ash.example")
        )
    )
    create_user(d, org_path("WH", "ash"), "bob@ash.example")
    client = AsgiClient(create_app(d))
    document = he("GetBusinessUsers", path=org_path("WH", "ash"))
    initial = home / "initial-admin-password"
    wrong = client.post("/provisioning", content=document, auth=(ADMIN, password + "x"))
    assert wrong.status_code == 401  # type: ignore[attr-defined]
    other = client.post("/provisioning", content=document, auth=("bob@ash.example", "Us3rPassw0rd!"))
    assert other.status_code == 200  # type: ignore[attr-defined]
    assert initial.read_text().strip() == password  # kept: the administrator has not signed in yet
    right = client.post("/provisioning", content=document, auth=(ADMIN, password))
    assert right.status_code == 200  # type: ignore[attr-defined]
    assert not initial.exists()
    again = client.post("/provisioning", content=document, auth=(ADMIN, password))
    assert again.status_code == 200  # type: ignore[attr-defined]


def test_a_changed_initial_password_is_forgotten_at_start(tmp_path: Path) -> None:
    home = tmp_path / "deployment"
    password = init(home)
    d = open_deployment(home)
    pending = d.pending_initial_password()
    assert pending is not None and pending.read() == password  # still valid: kept, and shown by serve
    with d.transaction() as providers:
        stored = providers.passwords.hash(Secret(ADMIN_PASSWORD))
        providers.directory.modify(d.layout.administrator, [Change.replace("userPassword", stored)])
    assert d.pending_initial_password() is None
    assert not (home / "initial-admin-password").exists()


@pytest.mark.parametrize(
    "query", ["dryRun=true&dryRun=false", "dryRun=false&dryRun=true", "dryRun=false&dryRun=false"]
)
def test_a_repeated_query_parameter_is_refused_and_nothing_runs(deployment: Deployment, query: str) -> None:
    client = AsgiClient(create_app(deployment))
    document = he("CreateResellerOrganization", container=HOSTING, name="WH")
    before, audited = snapshot(deployment), len(deployment.audit.recent(1000))
    response = client.post(f"/provisioning?{query}", content=document, auth=(ADMIN, ADMIN_PASSWORD))
    assert response.status_code == 400  # type: ignore[attr-defined]
    context = etree.fromstring(response.content).find("errorContext")  # type: ignore[attr-defined]
    assert context.get("code") == "0x80070057"
    assert context.get("description") == "query parameter 'dryRun' is given more than once"
    assert snapshot(deployment) == before
    assert len(deployment.audit.recent(1000)) == audited
