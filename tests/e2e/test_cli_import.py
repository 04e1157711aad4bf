"""``openmps import``: a migration from LDIF — dry run, conflicts, import, and a safe re-run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmps.app import Deployment, open_deployment
from openmps.cli.main import app
from openmps.types import DN
from support import he, make_alpineskihouse, ok, org_path, request_xml, snapshot

runner = CliRunner()
STORE_DN = (
    "CN=BusinessMailStore1,CN=First Storage Group,CN=InformationStore,CN=EXBE01,CN=Servers,"
    "CN=First Administrative Group,CN=Administrative Groups,CN=fabrikam,CN=Microsoft Exchange,CN=Services,"
    "CN=Configuration,DC=fabrikam,DC=com"
)


def ldif(orgs: int, users: int, *, size: str = "5000", extra: str = "") -> str:
    records = ["version: 1", ""]
    for o in range(orgs):
        org = f"OU=t{o},OU=WH,OU=Hosting,DC=fabrikam,DC=com"
        records += [
            f"dn: {org}",
            "objectClass: top",
            "objectClass: organizationalUnit",
            f"ou: t{o}",
            f"uPNSuffixes: t{o}.example",
            "",
        ]
        for u in range(users):
            records += [
                f"dn: CN=User {u},{org}",
                "objectClass: top",
                "objectClass: person",
                "objectClass: organizationalPerson",
                "objectClass: user",
                f"cn: User {u}",
                f"userPrincipalName: u{u}@t{o}.example",
                f"homeMDB: {STORE_DN}",
                f"mDBOverQuotaLimit: {size}",
                "",
            ]
    return "\n".join(records) + extra


@pytest.fixture
def home(deployment: Deployment) -> Path:
    make_alpineskihouse(deployment, exchange=True)  # WH, stores of 1000 MB each
    home = Path(str(deployment.sql.url.database)).parent
    deployment.sql.dispose()
    return home


def run(home: Path, tmp_path: Path, text: str, *options: str) -> tuple[int, str]:
    path = tmp_path / "migration.ldif"
    path.write_text(text)
    result = runner.invoke(app, ["--home", str(home), "import", str(path), *options], env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_dry_run_then_import_then_again(home: Path, tmp_path: Path) -> None:
    d = open_deployment(home)
    before = snapshot(d)
    code, output = run(home, tmp_path, ldif(3, 4), "--dry-run")
    assert code == 0 and "no conflicts" in output
    assert snapshot(d) == before  # a dry run writes nothing
    code, output = run(home, tmp_path, ldif(3, 4), "--plan", "NoSuchPlan")
    assert code == 1 and "no plan named 'NoSuchPlan'" in output
    assert snapshot(d) == before
    # a user whose UPN is on a domain its organization does not have fails alone
    stranger = (
        "\ndn: CN=Stranger,OU=t2,OU=WH,OU=Hosting,DC=fabrikam,DC=com\nobjectClass: user\ncn: Stranger\n"
        "userPrincipalName: stranger@elsewhere.example\n"
    )
    code, output = run(home, tmp_path, ldif(3, 4) + stranger, "--plan", "BaseMail")
    assert code == 1
    assert "CN=Stranger" in output and "'elsewhere.example' is not a domain of" in output
    # the other users were imported, BaseMail offered to their organizations
    assert "3 organizations and 12 users imported, 0 already under management, 1 user failed" in output
    users = ok(d.submit(he("GetBusinessUsers", path=org_path("WH", "t1")))).findall("data/users/user")
    assert sorted(u.get("name") for u in users) == [f"u{i}@t1.example" for i in range(4)]
    allocation = ok(
        d.submit(
            request_xml("Exchange Resource Manager", "QueryMailboxAllocation", mailbox=users[0].get("path"))
        )
    )
    assert allocation.findtext("data/mailStore/kilobytes") == "10000"  # the plan's size
    again = snapshot(d)
    code, output = run(home, tmp_path, ldif(3, 4), "--plan", "BaseMail")
    assert code == 0 and snapshot(d) == again
    # the re-run says what the procedures answered: everything was there already
    assert "0 entries added" in output
    assert "0 imported, 3 organizations and 12 users already under management, 0 failed" in output, output
    d.sql.dispose()


def test_conflicts_are_all_reported_and_nothing_is_written(home: Path, tmp_path: Path) -> None:
    d = open_deployment(home)
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=org_path("WH", "alpineskihouse"),
                userPrincipalName="taken@alpineskihouse.com",
                isAdmin=False,
            )
        )
    )
    before = snapshot(d)
    duplicate = (
        "\ndn: CN=Twin,OU=t0,OU=WH,OU=Hosting,DC=fabrikam,DC=com\nobjectClass: user\ncn: Twin\n"
        "userPrincipalName: u0@t0.example\n\n"
        "dn: CN=Deep,OU=x,OU=t0,OU=WH,OU=Hosting,DC=fabrikam,DC=com\nobjectClass: user\ncn: Deep\n\n"
        "dn: CN=NoSize,OU=t0,OU=WH,OU=Hosting,DC=fabrikam,DC=com\nobjectClass: user\ncn: NoSize\n"
        f"userPrincipalName: nosize@t0.example\nhomeMDB: {STORE_DN}\n\n"
        "dn: CN=Taken,OU=alpineskihouse,OU=WH,OU=Hosting,DC=fabrikam,DC=com\nobjectClass: user\ncn: Taken\n"
        "userPrincipalName: taken@alpineskihouse.com\n"
    )
    code, output = run(home, tmp_path, ldif(1, 2, size="2000000") + duplicate)
    assert code == 1
    for problem in ("more than once", "neither in the file", "no size", "already in use", "KB are free"):
        assert problem in output, problem
    assert snapshot(d) == before
    d.sql.dispose()


def test_organizations_take_no_ones_domain(home: Path, tmp_path: Path) -> None:
    """The provider's name, another organization's or one the file gives twice: each is told
    in the dry run, and nothing is written."""
    d = open_deployment(home)
    before = snapshot(d)
    text = ldif(4, 0)
    for o, suffix in ((1, "fabrikam.com"), (2, "alpineskihouse.com"), (3, "t0.example")):
        text = text.replace(f"uPNSuffixes: t{o}.example", f"uPNSuffixes: {suffix}")
    code, output = run(home, tmp_path, text, "--dry-run")
    assert code == 1
    for problem in (
        "the domain 'fabrikam.com' is the provider's own",
        "the domain 'alpineskihouse.com' is already in use",
        "uPNSuffixes 't0.example' appears more than once in the file",
    ):
        assert problem in output, problem
    assert "OU=alpineskihouse" not in output  # the holder is not named
    assert snapshot(d) == before
    code, output = run(home, tmp_path, ldif(4, 0), "--dry-run")
    assert code == 0 and "no conflicts" in output
    d.sql.dispose()


def test_departments_and_their_users_are_imported(home: Path, tmp_path: Path) -> None:
    d = open_deployment(home)
    sales = "OU=Sales,OU=t0,OU=WH,OU=Hosting,DC=fabrikam,DC=com"
    departments = (
        f"\ndn: {sales}\nobjectClass: organizationalUnit\nou: Sales\n\n"
        f"dn: OU=East,{sales}\nobjectClass: organizationalUnit\nou: East\n\n"
        f"dn: CN=Seller,OU=East,{sales}\nobjectClass: user\ncn: Seller\nuserPrincipalName: seller@t0.example\n"
        f"homeMDB: {STORE_DN}\nmDBOverQuotaLimit: 5000\n"
    )
    code, output = run(home, tmp_path, ldif(1, 1) + departments)
    assert code == 0, output
    assert "3 organizations and 2 users imported, 0 already under management" in output
    code, output = run(home, tmp_path, ldif(1, 1) + departments)  # departments count as done too
    assert code == 0 and "0 imported, 3 organizations and 2 users already under management" in output
    users = ok(d.submit(he("GetBusinessUsers", path=org_path("WH", "t0")))).findall("data/users/user")
    assert sorted(u.get("path") for u in users) == [
        f"LDAP://CN=seller@t0.example,OU=East,{sales}",
        "LDAP://CN=u0@t0.example,OU=t0,OU=WH,OU=Hosting,DC=fabrikam,DC=com",
    ]
    with d.transaction() as providers:  # departments: no customer record, no groups of their own
        entry = providers.directory.get(DN.parse(sales))
        assert providers.plans.customer(entry.guid) is None
        assert providers.directory.well_known(entry, "ThisOrganizationRoot") == DN.parse(sales).parent
    d.sql.dispose()
