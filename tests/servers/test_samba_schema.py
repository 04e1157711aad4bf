"""scripts/samba-dc.sh brings a live DC's schema extension up to date at each start: a DC provisioned
by an older checkout (its extension lacking an attribute) gains it when it is started again by the
current script, even where samba dies as the extension is applied (the script starts it once more),
and a DC that holds it all is not written to (scripts/samba_schema.py).  Meanwhile
``openmps init`` refuses the older DC in one line naming what it lacks and the fix, writing nothing
(directory/ldap/schema.py), and takes it once it is up to date."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3 import BASE, Connection, Server, Tls

from openmps.app import DirectoryServerChoice, init_deployment
from openmps.errors import InvalidOperation
from openmps.types import Secret
from support import ADMIN_PASSWORD, fast_passwords

ROOT = Path(__file__).resolve().parents[2]
NO_SERVER = 3
SCHEMA_DN = "CN=Schema,CN=Configuration,DC=example,DC=org"
NEWER = "extensionAttribute15"  # what the older extension lacks


def older_extension(text: str) -> str:
    """The extension without ``NEWER``: neither its attributeSchema entry nor the class's mayContain."""
    blocks = [b for b in text.split("\n\n") if f"dn: CN={NEWER}," not in b]
    return "\n\n".join(blocks).replace(f"mayContain: {NEWER}\n", "")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the scripts beside an older schema/samba-extension.ldif: an older checkout."""
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    (copy / "schema").mkdir()
    for name in ("samba-dc.sh", "pidfile.sh", "samba_schema.py"):
        shutil.copy(ROOT / "scripts" / name, copy / "scripts" / name)
    current = (ROOT / "schema" / "samba-extension.ldif").read_text()
    older = older_extension(current)
    assert NEWER not in older and NEWER in current
    (copy / "schema" / "samba-extension.ldif").write_text(older)
    return copy


@pytest.fixture
def dc_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "dc"
    yield folder
    subprocess.run(["bash", str(ROOT / "scripts" / "samba-dc.sh"), "stop", str(folder)], check=False)


def start(checkout: Path, folder: Path, **env: str) -> dict[str, str]:
    """The DC started by ``checkout``'s script (``env`` added): what it printed, and its stderr as
    ``stderr``."""
    started = subprocess.run(
        ["bash", str(checkout / "scripts" / "samba-dc.sh"), "start", str(folder), "example.org"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    if started.returncode == NO_SERVER and not os.environ.get("OPENMPS_REQUIRE_LDAP"):
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stderr
    printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
    return {**printed, "stderr": started.stderr}


def stop(checkout: Path, folder: Path) -> None:
    subprocess.run(["bash", str(checkout / "scripts" / "samba-dc.sh"), "stop", str(folder)], check=True)


def schema_holds(printed: dict[str, str]) -> tuple[bool, bool]:
    """Whether the DC's schema has ``NEWER``, and whether openmpsHosted may contain it."""
    server = Server(printed["url"], get_info=None, tls=Tls(validate=ssl.CERT_NONE), connect_timeout=5)
    password = Path(printed["password_file"]).read_text()
    conn = Connection(server, printed["bind_dn"], password, auto_bind=True, receive_timeout=20)
    try:
        attribute = conn.search(f"CN={NEWER},{SCHEMA_DN}", "(objectClass=*)", BASE, attributes=["cn"])
        conn.search(f"CN=openmpsHosted,{SCHEMA_DN}", "(objectClass=*)", BASE, attributes=["mayContain"])
        may = {str(v).lower() for v in conn.entries[0]["mayContain"].values}
        return bool(attribute), NEWER.lower() in may
    finally:
        conn.unbind()


def init(printed: dict[str, str], home: Path) -> None:
    """``openmps init`` of the DC's domain on it."""
    choice = DirectoryServerChoice(
        printed["url"], printed["bind_dn"], Path(printed["password_file"]), ca_file=Path(printed["ca_file"])
    )
    made = init_deployment(
        home,
        domain="example.org",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
        directory=choice,
    )
    made.close_directory()


def hosted(printed: dict[str, str]) -> bool:
    """Whether any entry carries OpenMPS's marker class."""
    server = Server(printed["url"], get_info=None, tls=Tls(validate=ssl.CERT_NONE), connect_timeout=5)
    password = Path(printed["password_file"]).read_text()
    conn = Connection(server, printed["bind_dn"], password, auto_bind=True, receive_timeout=20)
    try:
        conn.search("DC=example,DC=org", "(objectClass=openmpsHosted)", attributes=["1.1"])
        return any(e.get("type") == "searchResEntry" for e in conn.response)
    finally:
        conn.unbind()


def test_an_older_dc_gains_the_newer_attributes_when_started_again(
    checkout: Path, dc_dir: Path, tmp_path: Path
) -> None:
    printed = start(checkout, dc_dir)
    assert schema_holds(printed) == (False, False)
    with pytest.raises(InvalidOperation) as refused:
        init(printed, tmp_path / "home")
    assert refused.value.description == (
        f"the directory server's schema lacks the attribute {NEWER}: apply schema/samba-extension.ldif "
        "(scripts/samba-dc.sh start DIR DOMAIN brings a DC's extension up to date)"
    )
    assert not hosted(printed)
    stop(checkout, dc_dir)
    # the checkout is updated: the current extension; the same DC (its database kept) started again
    shutil.copy(ROOT / "schema" / "samba-extension.ldif", checkout / "schema" / "samba-extension.ldif")
    # samba dies as the extension is applied (made to, here): the script starts it once more,
    # which applies it
    again = start(checkout, dc_dir, OPENMPS_TEST_SAMBA_DIES="1")
    assert "starting the DC again to finish it" in again.pop("stderr")
    assert again["password_file"] == printed["password_file"]
    assert schema_holds(again) == (True, True)
    added = (dc_dir / "schema.ldif").read_text()
    assert f"dn: CN={NEWER},{SCHEMA_DN}" in added and f"mayContain: {NEWER}" in added
    assert "dn: CN=mailNickname," not in added, "what the DC held was written again"
    init(again, tmp_path / "home")
    assert hosted(again)
    stop(checkout, dc_dir)
    # a DC that holds the whole extension is left alone
    start(checkout, dc_dir)
    assert (dc_dir / "schema.ldif").read_text() == ""
