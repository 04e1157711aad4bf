"""docs/api/documented.txt stays parseable and the coverage report runs on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmps.app import registry
from openmps.cli import coverage
from openmps.cli.coverage import DOCUMENTED, Documented, parse


def test_the_committed_list_parses_and_names_sections() -> None:
    documented = parse(DOCUMENTED.read_text(encoding="utf-8").splitlines())
    assert len(documented) > 100
    assert Documented("Hosted Exchange", "CreateBusinessUser", "§2.5") in documented
    assert all(d.section.startswith("§") for d in documented)


def test_the_registry_answers_at_least_what_it_did() -> None:
    documented = parse(DOCUMENTED.read_text(encoding="utf-8").splitlines())
    rows = coverage.coverage(documented, registry())
    assert sum(len(r.answered) for r in rows) >= 66  # issue 16's starting point


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        ("Hosted Exchange CreateBusinessUser §2.5", "is not 'Namespace::Procedure §section'"),
        ("Hosted Exchange::CreateBusinessUser", "is not 'Namespace::Procedure §section'"),
        (
            "Hosted Exchange::CreateBusinessUser §2.5\nhosted exchange::createbusinessuser §2.5",
            "listed twice",
        ),
    ],
)
def test_a_bad_line_is_named(line: str, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        parse(line.splitlines())


def test_the_report_counts_answered_per_namespace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "documented.txt"
    listed.write_text(
        "# comment\n\nHosted Exchange::CreateBusinessUser §2.5\nHosted Exchange::NoSuchProcedure §9\n"
        "Hosted Exchange::TestOrgCreator_ §0\nNo Such Namespace::Anything §9\n"
        "Exchange Resource Manager Ex::AllocateMailbox §2.4\n"
    )
    assert coverage.main([str(listed)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Hosted Exchange 1/3 missing: NoSuchProcedure, TestOrgCreator_" in out
    assert "Exchange Resource Manager Ex 1/1 namespaces it does not" in out
    assert "namespaces it does not: 0/1" in out
    assert "all documented: 2/5" in out


def test_an_unreadable_list_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "documented.txt"
    listed.write_text("not a line\n")
    assert coverage.main([str(listed)]) == 2
    assert "line 1" in capsys.readouterr().err
