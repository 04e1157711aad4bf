"""openmps check: drift between the directory, the Resource Manager and the plans database is
found, each kind by name; --repair fixes what needs no choice, audited; a clean deployment is 0."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openmps.app import Deployment
from openmps.check import check
from openmps.cli.main import app
from openmps.directory.interface import Change
from openmps.types import DN
from support import he, make_alpineskihouse, ok, org_path

ALPINE = org_path("WH", "alpineskihouse")
runner = CliRunner()


def user_dn(upn: str) -> DN:
    return DN.from_path(ALPINE).child("CN", upn)


def drifted(d: Deployment) -> None:
    """Four kinds of drift, each made below the engine, as a crash or a hand edit would leave it."""
    make_alpineskihouse(d, exchange=True)
    for upn in ("ann@alpineskihouse.com", "bo@alpineskihouse.com", "cy@alpineskihouse.com"):
        ok(
            d.submit(
                he(
                    "CreateBusinessUser",
                    container=ALPINE,
                    userPrincipalName=upn,
                    isAdmin=False,
                    planName="BaseMail",
                )
            )
        )
    with d.transaction() as providers:
        directory = providers.directory
        org = providers.org_chain(DN.from_path(ALPINE))[0]
        directory.modify(
            org.names.all_users, [Change.delete("member", str(user_dn("ann@alpineskihouse.com")))]
        )
        directory.modify(user_dn("bo@alpineskihouse.com"), [Change.replace("mDBStorageQuota", "1")])
        directory.delete(user_dn("cy@alpineskihouse.com"))  # its allocation and customer record stay


def kinds(findings: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return sorted((f.kind, f.repaired) for f in findings)


def test_a_clean_deployment_has_no_drift(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    ok(
        deployment.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="ann@alpineskihouse.com",
                isAdmin=False,
                planName="BaseMail",
            )
        )
    )
    assert check(deployment) == []
    assert deployment.home is not None
    result = runner.invoke(app, ["--home", str(deployment.home), "check"])
    assert result.exit_code == 0 and "0 found, 0 repaired, 0 left" in result.output


def test_drift_is_reported_by_kind_and_a_report_changes_nothing(deployment: Deployment) -> None:
    drifted(deployment)
    first = check(deployment)
    assert kinds(first) == [
        ("allocation-without-mailbox", False),
        ("customer-record-without-object", False),
        ("mailbox-quota-differs", False),
        ("user-not-in-all-users", False),
    ]
    assert check(deployment) == first  # reading repaired nothing
    assert deployment.home is not None
    result = runner.invoke(app, ["--home", str(deployment.home), "check", "--json"])
    assert result.exit_code == 1
    assert {row["kind"] for row in json.loads(result.output)} == {k for k, _ in kinds(first)}


def test_repair_fixes_what_needs_no_choice_and_is_audited(deployment: Deployment) -> None:
    drifted(deployment)
    with deployment.transaction() as providers:
        free_before = sum(s.free_kb for s in providers.resources.stores())
    assert all(repaired for _, repaired in kinds(check(deployment, repair=True)))
    assert check(deployment) == []
    with deployment.transaction() as providers:
        assert sum(s.free_kb for s in providers.resources.stores()) == free_before  # org pool: unchanged
        assert (
            providers.resources.mailbox(providers.directory.get(user_dn("bo@alpineskihouse.com")).guid)
            is not None
        )
    record = deployment.audit.recent(1)[0]
    assert (
        record.caller == "openmps check --repair" and "repair:allocation-without-mailbox" in record.procedures
    )


def test_an_organization_missing_a_well_known_object_is_reported_not_guessed(
    deployment: Deployment, tmp_path: Path
) -> None:
    make_alpineskihouse(deployment)
    with deployment.transaction() as providers:
        entry = providers.directory.get(DN.from_path(ALPINE))
        pointer = next(v for v in entry.get("otherWellKnownObjects") if "UserCreators" in v or "Admins@" in v)
        providers.directory.modify(entry.dn, [Change.delete("otherWellKnownObjects", pointer)])
    findings = check(deployment, repair=True)
    assert [(f.kind, f.repaired) for f in findings] == [("organization-missing-well-known", False)]
    assert "UserCreators" in findings[0].problem
