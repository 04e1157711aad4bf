"""``openmps ldif export`` / ``openmps ldif import`` end to end through the Typer app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import insert
from typer.testing import CliRunner

from openmps.app import FIRST_RID, init_deployment
from openmps.cli.main import app
from openmps.db.schema import settings
from openmps.db.store import make_engine, migrate, read_settings, sqlite_url
from openmps.delegation.passwords import Passwords
from openmps.types import Secret

runner = CliRunner()

ADD = """version: 1

dn: OU=Tenants,OU=Hosting,DC=fabrikam,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Tenants

dn: CN=Users,DC=fabrikam,DC=com
changetype: modify
replace: description
description: changed
-
"""

FAILING = (
    ADD
    + """
dn: CN=Ghost,OU=Hosting,DC=fabrikam,DC=com
changetype: delete

dn: CN=Late,OU=Hosting,DC=fabrikam,DC=com
objectClass: top
cn: Late
"""
)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    d = init_deployment(
        tmp_path / "a",
        domain="fabrikam.com",
        admin_password=Secret("Adm1nPassw0rd!"),
        passwords=Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)),
    )
    d.sql.dispose()
    yield tmp_path / "a"


def run(home: Path, *args: str, stdin: bytes | None = None) -> tuple[int, bytes, str]:
    result = runner.invoke(app, ["--home", str(home), "ldif", *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def export(home: Path) -> bytes:
    code, out, _ = run(home, "export")
    assert code == 0
    return out


def test_export_to_stdout(home: Path) -> None:
    code, out, err = run(home, "export")
    assert code == 0
    assert out.startswith(b"version: 1\n\ndn: DC=fabrikam,DC=com\n")
    count = out.count(b"\ndn: ")
    assert f"exported {count} entries" in err
    assert b"memberOf" not in out
    assert b"objectGUID: " in out and b"userPassword: {ARGON2" in out


def test_export_a_subtree_to_a_file(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "hosting.ldif"
    code, out, err = run(home, "export", "--base", "LDAP://OU=Hosting,DC=fabrikam,DC=com", "-o", str(target))
    assert code == 0
    assert out == b""
    data = target.read_bytes()
    assert data.startswith(b"version: 1\n\ndn: OU=Hosting,DC=fabrikam,DC=com\n")
    assert b"CN=Users" not in data
    assert "exported" in err


@pytest.mark.parametrize("base", ["OU=Nowhere,DC=fabrikam,DC=com", "not a dn"])
def test_export_of_a_bad_base_fails(home: Path, tmp_path: Path, base: str) -> None:
    target = tmp_path / "out.ldif"
    code, _, err = run(home, "export", "--base", base, "--output", str(target))
    assert code == 1
    assert "error 0x" in err
    assert not target.exists()


def test_import_applies_records_and_summarizes(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.ldif"
    source.write_text(ADD)
    code, out, err = run(home, "import", str(source))
    assert code == 0, err
    assert out.decode().strip() == "added 1, modified 1, deleted 0"
    after = export(home)
    assert b"dn: OU=Tenants,OU=Hosting,DC=fabrikam,DC=com\n" in after
    assert b"description: changed\n" in after


def test_import_from_stdin(home: Path) -> None:
    code, out, _ = run(home, "import", "-", stdin=ADD.encode())
    assert code == 0
    assert b"added 1, modified 1, deleted 0" in out


def test_a_failing_record_leaves_the_store_unchanged(home: Path, tmp_path: Path) -> None:
    before = export(home)
    source = tmp_path / "in.ldif"
    source.write_text(FAILING)
    code, out, err = run(home, "import", str(source))
    assert code == 1
    assert "CN=Ghost,OU=Hosting,DC=fabrikam,DC=com" in err
    assert "added" not in out.decode()
    assert export(home) == before


@pytest.mark.parametrize(
    "data",
    [
        b"dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\nnonsense\n",
        b"dn: CN=x,OU=Hosting,DC=fabrikam,DC=com\ncn: caf\xe9\n",
        b"dn: CN=x,OU=Nowhere,DC=fabrikam,DC=com\ncn: x\n",
        ADD.encode() + b"\ndn: CN=y,OU=Tenants,OU=Hosting,DC=fabrikam,DC=com\ncn:< file:///etc/passwd\n",
    ],
)
def test_bad_input_fails_with_exit_1_and_writes_nothing(home: Path, data: bytes) -> None:
    before = export(home)
    code, _, err = run(home, "import", "-", stdin=data)
    assert code == 1
    assert "error 0x" in err and "CN=" in err.replace("\n", "")
    assert export(home) == before


def test_missing_file_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    code, _, err = run(home, "import", str(tmp_path / "absent.ldif"))
    assert code == 2
    assert "cannot read" in err


def test_no_deployment(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "nothing", "export")
    assert code == 1
    assert "no OpenMPS deployment" in err.replace("\n", " ")


def test_round_trip_through_the_cli_into_an_empty_store(home: Path, tmp_path: Path) -> None:
    exported = tmp_path / "a.ldif"
    assert run(home, "export", "--output", str(exported))[0] == 0
    other = tmp_path / "b"
    other.mkdir()
    sql = make_engine(sqlite_url(other / "openmps.db"))
    migrate(sql)
    source = make_engine(sqlite_url(home / "openmps.db"))
    values = read_settings(source)
    source.dispose()
    with sql.begin() as conn:
        conn.execute(
            insert(settings),
            [
                {"name": "domain", "value": values["domain"]},
                {"name": "domain_sid", "value": values["domain_sid"]},
                {"name": "next_rid", "value": str(FIRST_RID)},
            ],
        )
    sql.dispose()
    code, out, err = run(other, "import", str(exported))
    assert code == 0, err
    assert out.decode().startswith("added ")
    assert export(other) == exported.read_bytes()


def test_ldif_without_a_subcommand_shows_help(home: Path) -> None:
    result = runner.invoke(app, ["--home", str(home), "ldif"])
    assert "export" in result.output and "import" in result.output
