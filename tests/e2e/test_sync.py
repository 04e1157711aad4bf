"""Service provisioning sync from an LDIF snapshot of a customer's forest (issue 14, step a)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from openmps.app import Deployment
from openmps.cli.main import app
from openmps.directory.interface import Scope
from openmps.sync.interface import ACTIVE, DISCONNECTED, Link
from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import organization, state_of, sync
from openmps.sync.sql import SqlSyncState
from openmps.types import DN
from support import make_alpineskihouse, make_contoso, org_path

runner = CliRunner()
ALPINE = DN.from_path(org_path("WH", "alpineskihouse"))
AMY, BEN, CAL = (
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333",
)
CONTACT, LIST = "44444444-4444-4444-4444-444444444444", "55555555-5555-5555-5555-555555555555"


def forest(*, without: tuple[str, ...] = (), list_members: tuple[str, ...] = ("Amy", "Partner")) -> bytes:
    """The customer's forest: Amy and Ben have mail, Cal has none; a contact; a distribution group."""
    objects = {
        AMY: "dn: CN=Amy,OU=Staff,DC=corp,DC=example\nobjectClass: top\nobjectClass: person\n"
        "objectClass: user\ncn: Amy\nobjectGUID: " + AMY + "\nmail: amy@alpineskihouse.com\n"
        "givenName: Amy\nsn: Rusko\ndisplayName: Amy Rusko\n",
        BEN: "dn: CN=Ben,OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: Ben\nobjectGUID: "
        + BEN
        + "\nmail: ben@alpineskihouse.com\ndisplayName: Ben Smith\n",
        CAL: "dn: CN=Cal,OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: Cal\nobjectGUID: " + CAL + "\n",
        CONTACT: "dn: CN=Partner,OU=Staff,DC=corp,DC=example\nobjectClass: contact\ncn: Partner\n"
        "objectGUID: " + CONTACT + "\nmail: partner@contoso.example\n",
        LIST: "dn: CN=Sales,OU=Staff,DC=corp,DC=example\nobjectClass: group\ncn: Sales\nobjectGUID: "
        + LIST
        + "\ngroupType: 8\n"
        + "".join(f"member: CN={m},OU=Staff,DC=corp,DC=example\n" for m in list_members),
    }
    return "\n".join(text for guid, text in objects.items() if guid not in without).encode()


def managed(d: Deployment) -> dict[str, dict[str, list[str]]]:
    """The organization's users, contacts and lists as the directory has them, by CN."""
    with d.transaction() as providers:
        found = providers.directory.search(ALPINE, Scope.ONELEVEL)
        return {
            e.dn.rdn_value: {
                k: list(e.get(k))
                for k in ("objectClass", "userAccountControl", "member", "mail", "displayName")
            }
            for e in found
            if e.has_class("user") or e.has_class("contact") or e.first("groupType") == "8"
        }


def test_users_with_mail_contacts_and_lists_are_provisioned(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    run = sync(deployment, ALPINE, LdifSource(forest()))
    assert run.errors == []
    assert run.counts["create"] == 4
    assert run.skipped == [("CN=Cal,OU=Staff,DC=corp,DC=example", run.skipped[0][1])]
    assert "without mail" in run.skipped[0][1]
    now = managed(deployment)
    amy = now["amy@alpineskihouse.com"]
    assert int(amy["userAccountControl"][0]) & 0x2  # logon-disabled
    assert amy["mail"] == ["amy@alpineskihouse.com"]  # a mailbox by the default rule
    assert amy["displayName"] == ["Amy Rusko"]  # attribute flow
    assert "ben@alpineskihouse.com" in now
    assert not any("Cal" in cn for cn in now)
    assert now["Partner"]["mail"]
    members = {DN.parse(m).rdn_value for m in now["Sales"]["member"]}
    assert members == {"amy@alpineskihouse.com", "Partner"}
    with deployment.transaction() as providers:
        assert providers.resources.mailbox(
            providers.directory.get(ALPINE.child("CN", "amy@alpineskihouse.com")).guid
        )


def test_a_preview_writes_nothing_and_a_rerun_without_change_does_nothing(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    before = managed(deployment)
    preview = sync(deployment, ALPINE, LdifSource(forest()), preview=True)
    assert preview.counts["create"] == 4
    assert ("create", "user", "CN=Amy,OU=Staff,DC=corp,DC=example") in preview.actions
    assert managed(deployment) == before
    org_guid, _ = organization(deployment, ALPINE)
    with state_of(deployment) as state:
        assert state.links(org_guid) == {} and state.runs(org_guid) == []
    sync(deployment, ALPINE, LdifSource(forest()))
    after = managed(deployment)
    again = sync(deployment, ALPINE, LdifSource(forest()))
    assert again.errors == [] and again.actions == []
    assert managed(deployment) == after
    with state_of(deployment) as state:
        runs = state.runs(org_guid)
    assert [r.outcome for r in runs] == ["completed", "completed"]
    assert json.loads(runs[1].report)["counts"]["create"] == 4
    assert json.loads(runs[0].report)["counts"]["create"] == 0


def test_membership_follows_the_source(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    run = sync(deployment, ALPINE, LdifSource(forest(list_members=("Ben", "Partner"))))
    assert run.errors == [] and run.counts["update"] == 1
    members = {DN.parse(m).rdn_value for m in managed(deployment)["Sales"]["member"]}
    assert members == {"ben@alpineskihouse.com", "Partner"}


def test_deleted_objects_are_deprovisioned(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    run = sync(deployment, ALPINE, LdifSource(forest(without=(AMY, CONTACT), list_members=())))
    assert run.errors == [] and run.counts["delete"] == 2
    now = managed(deployment)
    assert "Partner" not in now  # a contact is deleted
    assert "amy@alpineskihouse.com" not in now  # a user leaves the organization's tree …
    kept = ALPINE.child("CN", "_Private").child("CN", "Disconnected").child("CN", "amy@alpineskihouse.com")
    with deployment.transaction() as providers:  # … disconnected, its mailbox kept for retention
        entry = providers.directory.get(kept)
        assert entry.first("msExchHideFromAddressLists") == "TRUE" and providers.resources.mailbox(entry.guid)
    assert now["Sales"]["member"] == []
    org_guid, _ = organization(deployment, ALPINE)
    with state_of(deployment) as state:
        amy = state.links(org_guid)[AMY]
    assert amy.state == DISCONNECTED and amy.retain_until is not None and amy.managed_dn == str(kept)
    assert sync(deployment, ALPINE, LdifSource(forest(without=(AMY, CONTACT), list_members=()))).actions == []


def test_one_failing_object_does_not_stop_the_others(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    bad = forest().replace(b"ben@alpineskihouse.com", b"ben@elsewhere.example")
    run = sync(deployment, ALPINE, LdifSource(bad))
    assert [e.source_dn for e in run.errors] == ["CN=Ben,OU=Staff,DC=corp,DC=example"]
    assert run.outcome == "errors"
    assert "amy@alpineskihouse.com" in managed(deployment)
    fixed = sync(deployment, ALPINE, LdifSource(forest()))
    assert fixed.errors == [] and fixed.counts["create"] == 1  # only Ben, no duplicates


def test_the_deletion_threshold_stops_a_run_before_writing(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    before = managed(deployment)
    shrunk = LdifSource(forest(without=(AMY, BEN, CONTACT)))
    stopped = sync(deployment, ALPINE, shrunk, threshold=2)
    assert stopped.outcome == "stopped" and "threshold of 2" in stopped.stopped
    assert managed(deployment) == before
    confirmed = sync(deployment, ALPINE, shrunk, threshold=2, confirm_deletes=True)
    assert confirmed.outcome == "completed" and confirmed.counts["delete"] == 3
    assert "Partner" not in managed(deployment)


def test_the_command_line(deployment: Deployment, tmp_path: Path) -> None:
    make_alpineskihouse(deployment, exchange=True)
    home = str(Path(str(deployment.sql.url.database)).parent)
    snapshot = tmp_path / "forest.ldif"
    snapshot.write_bytes(forest())
    org = org_path("WH", "alpineskihouse")

    def cli(*arguments: str) -> Result:
        return runner.invoke(app, ["--home", home, "sync", *arguments], env={"COLUMNS": "250"})

    preview = cli("run", "--org", org, "--from-ldif", str(snapshot), "--preview")
    assert preview.exit_code == 0, preview.output
    assert "create user CN=Amy,OU=Staff,DC=corp,DC=example" in preview.output
    assert "amy@alpineskihouse.com" not in managed(deployment)
    done = cli("run", "--org", org, "--from-ldif", str(snapshot))
    assert done.exit_code == 0, done.output
    assert "skipped CN=Cal" in done.output
    assert "amy@alpineskihouse.com" in managed(deployment)
    status = cli("status", "--org", org)
    assert status.exit_code == 0 and "completed" in status.output and "create 4" in status.output
    dan = (
        "\ndn: CN=Dan,OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: Dan\n"
        "objectGUID: 66666666-6666-6666-6666-666666666666\nmail: dan@elsewhere.example\n"
    )
    snapshot.write_bytes(forest() + dan.encode())
    ben = cli("run", "--org", org, "--from-ldif", str(snapshot))
    assert ben.exit_code == 1 and "error" in ben.output and "CN=Dan" in ben.output
    assert cli("run", "--org", org).exit_code == 2
    assert cli("run", "--org", "nonsense", "--from-ldif", str(snapshot)).exit_code == 2


def test_a_move_is_matched_by_objectguid_and_attribute_changes_flow(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    moved = forest().replace(b"CN=Amy,OU=Staff", b"CN=Amy,OU=Sales")
    run = sync(deployment, ALPINE, LdifSource(moved))
    assert run.errors == [] and run.counts == {"create": 0, "update": 1, "delete": 0, "skipped": 1}
    assert sync(deployment, ALPINE, LdifSource(moved)).actions == []  # the move is remembered
    renamed = moved.replace(b"displayName: Amy Rusko", b"displayName: Amy Rusko-Berg")
    flowed = sync(deployment, ALPINE, LdifSource(renamed))  # through Managed AD's ModifyUser
    assert flowed.errors == [] and flowed.counts["update"] == 1
    assert managed(deployment)["amy@alpineskihouse.com"]["displayName"] == ["Amy Rusko-Berg"]
    assert sync(deployment, ALPINE, LdifSource(renamed)).actions == []
    contact = renamed.replace(b"cn: Partner\n", b"cn: Partner\ndisplayName: Our Partner\n")
    changed = sync(deployment, ALPINE, LdifSource(contact))  # through Hosted Exchange's ModifyContact
    assert changed.errors == [] and changed.counts["update"] == 1
    assert managed(deployment)["Partner"]["displayName"] == ["Our Partner"]


def test_a_run_that_dies_is_resumed_without_duplicates(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's links are written in the engine's own transaction: a run killed as it writes them
    leaves neither the objects nor their links, and the next run makes each object once."""
    make_alpineskihouse(deployment, exchange=True)
    save_all = SqlSyncState.save_all

    def dies_as_the_links_are_written(self: SqlSyncState, org: str, links: Sequence[Link]) -> None:
        if any(link.state == ACTIVE for link in links):
            raise SystemExit("killed")
        save_all(self, org, links)

    monkeypatch.setattr(SqlSyncState, "save_all", dies_as_the_links_are_written)
    with pytest.raises(SystemExit):
        sync(deployment, ALPINE, LdifSource(forest()))
    monkeypatch.setattr(SqlSyncState, "save_all", save_all)
    assert "amy@alpineskihouse.com" not in managed(deployment)  # rolled back with its link
    resumed = sync(deployment, ALPINE, LdifSource(forest()))
    assert resumed.errors == [] and resumed.counts["create"] == 4
    assert sum(1 for cn in managed(deployment) if cn.startswith("amy")) == 1
    assert sync(deployment, ALPINE, LdifSource(forest())).actions == []


def test_a_creation_that_never_committed_is_tried_again(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_alpineskihouse(deployment, exchange=True)

    def dies(action: object) -> None:
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        sync(deployment, ALPINE, LdifSource(forest()), progress=dies)
    assert "amy@alpineskihouse.com" not in managed(deployment)
    again = sync(deployment, ALPINE, LdifSource(forest()))
    assert again.errors == [] and again.counts["create"] == 4


def test_a_nested_group_is_a_member_after_one_run(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    team = (
        "\ndn: CN=Team,OU=Staff,DC=corp,DC=example\nobjectClass: group\ncn: Team\n"
        "objectGUID: 77777777-7777-7777-7777-777777777777\ngroupType: 8\n"
        "member: CN=Ben,OU=Staff,DC=corp,DC=example\n"
    )
    run = sync(deployment, ALPINE, LdifSource(forest(list_members=("Amy", "Team")) + team.encode()))
    assert run.errors == []
    members = {DN.parse(m).rdn_value for m in managed(deployment)["Sales"]["member"]}
    assert members == {"amy@alpineskihouse.com", "Team"}


def test_a_group_loop_is_an_error_naming_it_and_nothing_of_it_is_written(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    team = (
        "\ndn: CN=Team,OU=Staff,DC=corp,DC=example\nobjectClass: group\ncn: Team\n"
        "objectGUID: 77777777-7777-7777-7777-777777777777\ngroupType: 8\n"
        "member: CN=Sales,OU=Staff,DC=corp,DC=example\n"
    )
    run = sync(deployment, ALPINE, LdifSource(forest(list_members=("Team",)) + team.encode()))
    assert sorted(e.source_dn for e in run.errors) == [
        "CN=Sales,OU=Staff,DC=corp,DC=example",
        "CN=Team,OU=Staff,DC=corp,DC=example",
    ]
    assert all("group loop" in e.reason and "CN=Team" in e.reason for e in run.errors)
    now = managed(deployment)
    assert "Team" not in now
    assert {DN.parse(m).rdn_value for m in now["Sales"]["member"]} == {"amy@alpineskihouse.com", "Partner"}


def test_two_organizations_with_their_own_forests_never_see_each_others_objects(
    deployment: Deployment,
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    make_contoso(deployment)
    contoso = DN.from_path(org_path("WH", "contoso"))
    # the same objectGUIDs in both forests: the connector spaces are the organizations' own
    theirs = forest().replace(b"alpineskihouse.com", b"contoso.com")
    assert sync(deployment, ALPINE, LdifSource(forest())).errors == []
    assert sync(deployment, contoso, LdifSource(theirs)).errors == []
    gone = sync(deployment, contoso, LdifSource(theirs.replace(b"objectClass: contact", b"objectClass: x")))
    assert gone.counts["delete"] == 1
    assert "Partner" in managed(deployment)  # alpineskihouse's contact is untouched
    with deployment.transaction() as providers:
        assert not providers.directory.exists(contoso.child("CN", "Partner"))
        assert providers.directory.exists(contoso.child("CN", "amy@contoso.com"))
    assert sync(deployment, ALPINE, LdifSource(forest())).actions == []


def test_disabling_the_source_account_has_no_effect(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, LdifSource(forest()))
    before = managed(deployment)
    disabled = forest().replace(b"givenName: Amy\n", b"givenName: Amy\nuserAccountControl: 514\n")
    run = sync(deployment, ALPINE, LdifSource(disabled))
    assert run.errors == [] and run.actions == []
    assert managed(deployment) == before
