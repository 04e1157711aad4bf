"""A directory server without OpenMPS's schema, or with an older one lacking part of it, is refused at
``openmps init`` and at a start, in one line naming what it lacks and the fix, before anything is
written (directory/ldap/schema.py): here on OpenLDAP, a slapd started by scripts/openldap.sh from a
checkout whose schema/openmps.schema is older; on Samba in test_samba_schema.py (a DC of an older
extension)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import SUBTREE, Connection, Server

from openmps.app import DirectoryServerChoice, init_deployment, open_deployment
from openmps.db.store import make_engine, read_settings, sqlite_url
from openmps.errors import InvalidOperation
from openmps.types import Secret
from support import ADMIN_PASSWORD, DirectoryServer, fast_passwords

ROOT = Path(__file__).resolve().parents[2]
NO_SERVER = 3
NEWER = "extensionAttribute15"  # what the older schema lacks
DOMAIN, SUFFIX = "fabrikam.com", "dc=fabrikam,dc=com"
LACKS = (
    f"the directory server's schema lacks the attribute {NEWER}: load schema/openmps.schema "
    "(scripts/openldap.sh start DIR PORT DOMAIN loads this checkout's, keeping the entries)"
)


def older_schema(text: str) -> str:
    """openmps.schema without ``NEWER``: neither its definition nor the classes' MAY of it."""
    older = re.sub(rf"attributetype \( \S+ NAME '{NEWER}'.*?\n(?=\S)", "", text, flags=re.S)
    return older.replace(f" $ {NEWER}", "")


@pytest.fixture
def older(tmp_path: Path) -> Path:
    """A copy of scripts/openldap.sh beside an older schema/openmps.schema: an older checkout."""
    copy = tmp_path / "older"
    (copy / "scripts").mkdir(parents=True)
    for name in ("openldap.sh", "pidfile.sh"):
        shutil.copy(ROOT / "scripts" / name, copy / "scripts" / name)
    shutil.copytree(ROOT / "schema", copy / "schema")
    current = (ROOT / "schema" / "openmps.schema").read_text()
    text = older_schema(current)
    assert NEWER not in text and NEWER in current
    (copy / "schema" / "openmps.schema").write_text(text)
    return copy


class Slapd:
    """One slapd's folder and port, started by one checkout's script or another's, its entries kept."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.server: DirectoryServer | None = None

    def start(self, checkout: Path) -> DirectoryServer:
        self.stop()
        started = subprocess.run(
            [
                "bash",
                str(checkout / "scripts" / "openldap.sh"),
                "start",
                str(self.folder),
                str(self.port),
                DOMAIN,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "OPENMPS_LDAP_NOSYNC": "1"},
        )
        if started.returncode == NO_SERVER and not os.environ.get("OPENMPS_REQUIRE_LDAP"):
            pytest.skip(started.stderr.strip())
        assert started.returncode == 0, started.stderr
        printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
        self.server = DirectoryServer(printed["url"], printed["bind_dn"], Path(printed["password_file"]))
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "openldap.sh"), "stop", str(self.folder)], check=True
            )
            self.server = None

    def entries(self) -> list[str]:
        assert self.server is not None
        conn = Connection(
            Server(self.server.url, get_info=None), self.server.bind_dn, self.server.password, auto_bind=True
        )
        try:
            conn.search(SUFFIX, "(objectClass=*)", SUBTREE, attributes=["1.1"])
            return [e["dn"] for e in conn.response if e.get("type") == "searchResEntry"]
        finally:
            conn.unbind()


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    made = Slapd(tmp_path / "slapd", port)
    try:
        yield made
    finally:
        made.stop()


def init_command(home: Path, server: DirectoryServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "openmps", "--home", str(home), "init", "--domain", DOMAIN),
            *("--directory", server.url, "--directory-bind-dn", server.bind_dn),
            *("--directory-password-file", str(server.password_file)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_openmps_init_refuses_a_server_whose_schema_is_older(
    slapd: Slapd, older: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    refused = init_command(home, slapd.start(older))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [f"error 0x80131509: {LACKS}"], refused.stderr
    assert slapd.entries() == []  # nothing written on the server
    assert "domain" not in read_settings(make_engine(sqlite_url(home / "openmps.db")))
    # the server started by the current checkout loads its schema: init goes through
    done = init_command(home, slapd.start(ROOT))
    assert done.returncode == 0, done.stdout + done.stderr
    assert slapd.entries()


def test_a_start_refuses_a_server_whose_schema_became_older(
    slapd: Slapd, older: Path, tmp_path: Path
) -> None:
    """A deployment made on a current server, which is then started with an older schema (a
    restore, a rollback of its configuration): every start is refused until the schema is back."""
    home = tmp_path / "home"
    server = slapd.start(ROOT)
    init_deployment(
        home,
        domain=DOMAIN,
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        directory=DirectoryServerChoice(server.url, server.bind_dn, server.password_file),
    ).close_directory()
    slapd.start(older)
    with pytest.raises(InvalidOperation) as refused:
        open_deployment(home, passwords=fast_passwords())
    assert refused.value.description == LACKS
    slapd.start(ROOT)
    opened = open_deployment(home, passwords=fast_passwords())
    assert opened.read(lambda d: d.exists(opened.layout.administrator))
    opened.close_directory()
