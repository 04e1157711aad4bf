"""Fixtures shared by every test folder; the helpers they use live in support.py."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from openmps.app import Deployment, DirectoryServerChoice, init_deployment
from openmps.types import Secret
from support import ADMIN_PASSWORD, SEEDS, DirectoryServer, World, build_world, fast_passwords, wipe_server

FABRIKAM_SUFFIX = "dc=fabrikam,dc=com"


def _deployment(request: pytest.FixtureRequest, home: Path, server_fixture: str) -> Iterator[Deployment]:
    """A new deployment for ``fabrikam.com`` in ``home``: its hosting directory in SQL, or, when
    ``OPENMPS_TEST_DIRECTORY=openldap``, on the OpenLDAP server ``server_fixture`` names (emptied
    before and after), but for tests marked ``sql_directory``."""
    server: DirectoryServer | None = None
    choice = None
    on_sql = request.node.get_closest_marker("sql_directory") is not None
    if os.environ.get("OPENMPS_TEST_DIRECTORY") == "openldap" and not on_sql:
        server = request.getfixturevalue(server_fixture)
        wipe_server(server, FABRIKAM_SUFFIX)
        choice = DirectoryServerChoice(server.url, server.bind_dn, server.password_file)
    made = init_deployment(
        home,
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        directory=choice,
    )
    yield made
    if server is not None:
        made.close_directory()
        wipe_server(server, FABRIKAM_SUFFIX)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A new deployment for ``fabrikam.com``: its hosting directory in SQL, or, when
    ``OPENMPS_TEST_DIRECTORY=openldap``, on the session's OpenLDAP server for ``fabrikam.com``
    (emptied before and after), so the e2e suite runs on the LDAP backend unchanged, but for
    tests marked ``sql_directory``: they are about the directory kept in SQL itself."""
    yield from _deployment(request, tmp_path / "home", "openldap_fabrikam")


@pytest.fixture
def world(deployment: Deployment) -> World:
    return build_world(deployment)


@pytest.fixture(scope="module")
def unchanged_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world for a module's tests whose every request must change nothing (each holds that
    itself, by ``support.stores_snapshot``): a new deployment per case cost most of their time
    on a directory server (test_hostile: 13 minutes on OpenLDAP).  On OpenLDAP a server of its
    own, as ``deployment`` empties its."""
    home = tmp_path_factory.mktemp("unchanged") / "home"
    for made in _deployment(request, home, "openldap_fabrikam_unchanged"):
        yield build_world(made)


@pytest.fixture(scope="module")
def shared_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for a module's tests that each write objects of names of their own and look only
    at those (never at what the world holds in all); apart from ``unchanged_world``, whose tests
    must find nothing where these make something."""
    home = tmp_path_factory.mktemp("shared") / "home"
    for made in _deployment(request, home, "openldap_fabrikam_shared"):
        yield build_world(made)


@pytest.fixture
def seeds() -> Iterator[Path]:
    yield SEEDS


POSTGRES_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
NO_SERVER = 3  # postgres.sh's exit code when no PostgreSQL server is installed


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of this session's own (scripts/postgres.sh): the URL of its ``postgres``
    database.  Skipped where no server or driver is installed, unless ``OPENMPS_REQUIRE_POSTGRES``
    is set (CI sets it): there, a missing server fails."""
    required = bool(os.environ.get("OPENMPS_REQUIRE_POSTGRES"))
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("no PostgreSQL driver (pip install psycopg[binary])")
    # directly under the temporary folder: as root the cluster belongs to 'postgres', who cannot
    # enter pytest's private folders
    folder = Path(tempfile.gettempdir()) / f"openmps-pg-{secrets.token_hex(4)}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), "start", str(folder), str(port)], capture_output=True, text=True
    )
    if started.returncode == NO_SERVER and not required:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _directory_server(script: str, arguments: list[str], what: str) -> Iterator[DirectoryServer]:
    """Start ``script`` (``start DIR ...``), yield the server it prints, stop it at the end.  Skipped
    where the server is not installed (and cannot be: not root), unless ``OPENMPS_REQUIRE_LDAP`` is
    set (CI sets it): there, a missing server fails."""
    required = bool(os.environ.get("OPENMPS_REQUIRE_LDAP"))
    try:
        import ldap3  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("no LDAP client (pip install ldap3)")
    folder = Path(tempfile.mkdtemp(prefix=f"openmps-{what}-"))
    command = ["bash", str(SCRIPTS / script)]
    env = {**os.environ, "OPENMPS_LDAP_NOSYNC": "1"}
    started = subprocess.run(
        [*command, "start", str(folder), *arguments], capture_output=True, text=True, env=env
    )
    if started.returncode == NO_SERVER and not required:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(started.stderr.strip())
    try:
        assert started.returncode == 0, started.stderr
        printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
        ca_file = Path(printed["ca_file"]) if "ca_file" in printed else None
        yield DirectoryServer(printed["url"], printed["bind_dn"], Path(printed["password_file"]), ca_file)
    finally:
        subprocess.run([*command, "stop", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fabrikam_server() -> Iterator[DirectoryServer]:
    """An OpenLDAP server of the session's own for ``fabrikam.com``, the tests' usual domain."""
    yield from _directory_server("openldap.sh", [str(_free_port()), "fabrikam.com"], "openldap")


@pytest.fixture(scope="session")
def openldap_server() -> Iterator[DirectoryServer]:
    """An OpenLDAP server of this session's own (scripts/openldap.sh) for ``example.com``, with the
    OpenMPS schema; bound as its root DN."""
    yield from _directory_server("openldap.sh", [str(_free_port()), "example.com"], "openldap")


@pytest.fixture(scope="session")
def openldap_fabrikam() -> Iterator[DirectoryServer]:
    """Another OpenLDAP server, for ``fabrikam.com``: a whole deployment of the tests' usual domain
    on a directory server (tests/servers/test_ldap_deployment.py)."""
    yield from _fabrikam_server()


@pytest.fixture(scope="session")
def openldap_fabrikam_unchanged() -> Iterator[DirectoryServer]:
    """A third OpenLDAP server for ``fabrikam.com``: ``unchanged_world``'s, which outlives tests."""
    yield from _fabrikam_server()


@pytest.fixture(scope="session")
def openldap_fabrikam_shared() -> Iterator[DirectoryServer]:
    """``shared_world``'s OpenLDAP server for ``fabrikam.com``."""
    yield from _fabrikam_server()


@pytest.fixture(scope="session")
def openldap_fabrikam_spare() -> Iterator[DirectoryServer]:
    """A second, empty OpenLDAP server for ``fabrikam.com``: what a backup is restored onto."""
    yield from _fabrikam_server()


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[DirectoryServer]:
    """A Samba AD domain controller of this session's own (scripts/samba-dc.sh) for ``example.com``
    (the directory contract suite's naming context),
    with OpenMPS's schema extension; its URL is ldaps://, its bind DN the Administrator's."""
    yield from _directory_server("samba-dc.sh", ["example.com"], "samba")
