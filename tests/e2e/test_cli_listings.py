"""The CLI's listings are for people and for scripts: --version, procedures by namespace in plain
text, the audit log filtered, --json on each, and nothing cut when piped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from openmps.app import Deployment
from openmps.cli.main import app
from openmps.errors import NotAuthenticated
from support import he, org_path

runner = CliRunner()


def run(home: Path, *args: str) -> Result:
    return runner.invoke(app, ["--home", str(home), *args])


def test_version_is_the_package_version(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip().startswith("openmps 0.")


def test_procedures_of_one_namespace_as_plain_text_and_as_json(deployment: Deployment) -> None:
    assert deployment.home is not None
    rows = json.loads(run(deployment.home, "procedures", "--namespace", "hosted exchange", "--json").output)
    assert {r["namespace"] for r in rows} == {"Hosted Exchange"}
    assert "CreateBusinessUser" in {r["procedure"] for r in rows}
    assert not [r["description"] for r in rows if "``" in r["description"] or ":class:" in r["description"]]
    table = run(deployment.home, "procedures", "--namespace", "Exchange Resource Manager").output
    assert "Register existing mail stores, public stores, consumer stores and front-end servers." in table
    refused = run(deployment.home, "procedures", "--namespace", "No Such Space")
    assert refused.exit_code == 2 and "no namespace 'No Such Space'" in refused.output


def test_the_audit_log_filtered_by_caller_procedure_outcome_and_time(deployment: Deployment) -> None:
    assert deployment.home is not None
    reseller = he("CreateResellerOrganization", container="LDAP://OU=Hosting,DC=fabrikam,DC=com", name="WH")
    assert deployment.submit(reseller).ok
    assert not deployment.submit(reseller).ok  # exists: a failure
    assert not deployment.submit(he("GetBusinessUsers", path=org_path("WH", "nowhere"))).ok
    with pytest.raises(NotAuthenticated):
        deployment.authenticator.authenticate("nobody@fabrikam.com", "wrong")

    def rows(*filters: str) -> list[dict[str, object]]:
        assert deployment.home is not None
        result = run(deployment.home, "audit", "--json", *filters)
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output))

    assert len(rows()) == 4
    made = rows("--procedure", "createresellerorganization", "--outcome", "success")
    assert len(made) == 1 and made[0]["caller"] == "administrator@fabrikam.com"
    assert len(rows("--procedure", "Hosted Exchange::", "--outcome", "failure")) == 2
    assert [r["caller"] for r in rows("--outcome", "sign-in failure")] == ["nobody@fabrikam.com"]
    assert len(rows("--caller", "ADMINISTRATOR@fabrikam.com")) == 3
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert rows("--since", later) == [] and len(rows("--until", later)) == 4
    assert len(rows("--limit", "1")) == 1


def test_a_piped_table_keeps_long_names_whole(deployment: Deployment) -> None:
    assert deployment.home is not None
    output = run(deployment.home, "procedures", "--namespace", "Managed Office Communications Server").output
    whole = "Give an organization a SIP domain: one of its own SMTP domains, or, for its OrgCreators, a name"
    assert whole in output  # on one line, not folded at 80 columns


def test_help_has_no_type_noise_on_flags() -> None:
    for command in ([], ["submit"], ["serve"], ["import"], ["audit"], ["check"], ["ldif", "export"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0 and "Usage:" in result.output
        assert "<bool>" not in result.output, (command, result.output)
