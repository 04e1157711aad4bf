"""The ``openmps`` command end to end through the Typer app: init, submit, procedures, audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from openmps.cli.main import app
from support import ADMIN_PASSWORD, HOSTING, he, org_path

runner = CliRunner()
WIDE = {"COLUMNS": "300"}  # rich tables: keep every cell on one line


def cli(home: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    return runner.invoke(app, ["--home", str(home), *args], input=stdin, env=WIDE)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "deployment"
    result = cli(home, "init", "--domain", "fabrikam.com", "--admin-password", ADMIN_PASSWORD)
    assert result.exit_code == 0, result.output
    return home


def response_of(result: Result) -> etree._Element:
    root = etree.fromstring(result.stdout_bytes)
    assert root.tag == "response"
    return root


def write(tmp_path: Path, name: str, document: str) -> Path:
    path = tmp_path / name
    path.write_text(document)
    return path


def test_init_announces_the_administrator(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = cli(home, "init", "--domain", "Fabrikam.com", "--admin-password", ADMIN_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Initialized" in result.output
    assert "administrator@fabrikam.com" in result.output
    assert ADMIN_PASSWORD not in result.output  # given, so not echoed
    assert (home / "openmps.db").exists()
    assert not (home / "initial-admin-password").exists()


def test_init_twice_fails_clearly(home: Path) -> None:
    result = cli(home, "init", "--domain", "fabrikam.com", "--admin-password", ADMIN_PASSWORD)
    assert result.exit_code == 1
    assert "already initialized" in result.output
    assert "0x80131509" in result.output
    assert "Traceback" not in result.output


def test_init_refuses_a_bad_domain(tmp_path: Path) -> None:
    result = cli(tmp_path / "bad", "init", "--domain", "not a domain", "--admin-password", ADMIN_PASSWORD)
    assert result.exit_code == 1
    assert "'not a domain' is not a valid DNS domain name" in result.output


def test_init_without_domain_is_a_usage_error(tmp_path: Path) -> None:
    assert cli(tmp_path / "x", "init").exit_code == 2


def test_submit_file(home: Path, tmp_path: Path) -> None:
    request = write(tmp_path, "reseller.xml", he("CreateResellerOrganization", container=HOSTING, name="WH"))
    result = cli(home, "submit", str(request))
    assert result.exit_code == 0, result.output
    assert "<response>" in result.stdout
    response = response_of(result)
    assert response.find("errorContext") is None
    assert response.find("data/org").get("path") == org_path("WH")
    # the deployment really changed: the same request now fails
    again = cli(home, "submit", str(request))
    assert again.exit_code == 1
    assert response_of(again).find("errorContext").get("code") == "0x80071392"


def test_submit_error_context_exits_1(home: Path, tmp_path: Path) -> None:
    request = write(tmp_path, "bad.xml", he("CreateResellerOrganization", container=HOSTING))
    result = cli(home, "submit", str(request))
    assert result.exit_code == 1
    error = response_of(result).find("errorContext")
    assert error.get("code") == "0x80070057"
    assert "'name' is required" in error.get("description")


def test_submit_malformed_xml_exits_1_with_an_error_context(home: Path, tmp_path: Path) -> None:
    result = cli(home, "submit", str(write(tmp_path, "broken.xml", "<request><procedure>")))
    assert result.exit_code == 1
    assert response_of(result).find("errorContext").get("code") == "0xC00CE500"
    assert "Traceback" not in result.output


def test_submit_user_without_password_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    request = write(tmp_path, "r.xml", he("GetBusinessUsers", path=HOSTING))
    result = cli(home, "submit", str(request), "--user", "administrator@fabrikam.com")
    assert result.exit_code == 2
    assert "--user and --password go together" in result.output
    result = cli(home, "submit", str(request), "--password", ADMIN_PASSWORD)
    assert result.exit_code == 2


def test_submit_missing_file_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    result = cli(home, "submit", str(tmp_path / "nowhere.xml"))
    assert result.exit_code == 2
    assert "cannot read" in result.output and "nowhere.xml" in result.output


def test_submit_from_stdin(home: Path) -> None:
    document = he("CreateResellerOrganization", container=HOSTING, name="FromStdin")
    result = cli(home, "submit", "-", stdin=document.encode())
    assert result.exit_code == 0, result.output
    assert response_of(result).find("data/org").get("name") == "FromStdin"


def test_submit_as_a_user(home: Path, tmp_path: Path) -> None:
    request = write(tmp_path, "r.xml", he("CreateResellerOrganization", container=HOSTING, name="AsUser"))
    wrong = cli(home, "submit", str(request), "--user", "administrator@fabrikam.com", "--password", "nope")
    assert wrong.exit_code == 1
    assert "0x8007052E" in wrong.output and "nope" not in wrong.output
    right = cli(
        home, "submit", str(request), "--user", "administrator@fabrikam.com", "--password", ADMIN_PASSWORD
    )
    assert right.exit_code == 0, right.output


def test_submit_without_a_deployment(tmp_path: Path) -> None:
    request = write(tmp_path, "r.xml", he("GetBusinessUsers", path=HOSTING))
    result = cli(tmp_path / "empty", "submit", str(request))
    assert result.exit_code == 1
    assert "openmps init" in result.output


def test_procedures_lists_the_registry(home: Path) -> None:
    result = cli(home, "procedures")
    assert result.exit_code == 0, result.output
    for name in ("CreateBusinessUser", "CreateBusinessOrganization", "GetBusinessUsers", "Hosted Exchange"):
        assert name in result.output


def test_audit_shows_submitted_procedures(home: Path, tmp_path: Path) -> None:
    assert (
        cli(
            home, "submit", "-", stdin=he("CreateResellerOrganization", container=HOSTING, name="WH")
        ).exit_code
        == 0
    )
    failing = he("CreateBusinessOrganization", container=org_path("WH"), name="x", SMTPDomain="not a domain")
    assert cli(home, "submit", "-", stdin=failing).exit_code == 1
    result = cli(home, "audit")
    assert result.exit_code == 0, result.output
    assert "Hosted Exchange::CreateResellerOrganization" in result.output
    assert "Hosted Exchange::CreateBusinessOrganization" in result.output
    assert "success" in result.output and "failure" in result.output
    assert "0x80070057" in result.output
    assert "administrator@fabrikam.com" in result.output


def test_submit_dry_run_answers_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    request = write(tmp_path, "reseller.xml", he("CreateResellerOrganization", container=HOSTING, name="WH"))
    rehearsal = cli(home, "submit", "--dry-run", str(request))
    assert rehearsal.exit_code == 0, rehearsal.output
    response = response_of(rehearsal)
    assert response.get("dryRun") == "true"
    assert response.find("data/org").get("path") == org_path("WH")
    real = cli(home, "submit", str(request))  # nothing was written: the real run still succeeds
    assert real.exit_code == 0, real.output
    assert response_of(real).get("dryRun") is None
    failing = cli(home, "submit", "--dry-run", str(request))  # and a rehearsal meets what a run would
    assert failing.exit_code == 1
    assert response_of(failing).find("errorContext").get("code") == "0x80071392"
    assert response_of(failing).get("dryRun") == "true"
    audit = cli(home, "audit")
    assert "dry-run success" in audit.output and "dry-run failure" in audit.output
