"""The objects a sync run failed on are remembered by objectGUID (``sync_pending``) and tried again
each run until they succeed, leave scope or are deleted at the source; run records are pruned by
the deployment's retention, never the last successful run (issue 14)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select, update
from test_sync import ALPINE, AMY, BEN, forest, managed
from typer.testing import CliRunner

from openmps.app import Deployment
from openmps.cli.main import app
from openmps.db.schema import sync_runs
from openmps.sync.daemon import Outcome, serve
from openmps.sync.interface import PendingObject, RunRetention
from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import organization, state_of, sync
from openmps.sync.sql import SqlSyncState
from openmps.syncconfig.interface import PENDING_SHOWN
from support import he, make_alpineskihouse, ok, request_xml

runner = CliRunner()
ASH = ALPINE.ldap_path
AMY_DN = ALPINE.child("CN", "amy@alpineskihouse.com")
BEN_SOURCE = "CN=Ben,OU=Staff,DC=corp,DC=example"
AMY_SOURCE = "CN=Amy,OU=Staff,DC=corp,DC=example"


def sp(procedure: str, /, **args: object) -> str:
    return request_xml("Service Provisioning", procedure, **args)


def pending(d: Deployment) -> dict[str, PendingObject]:
    org_guid, _ = organization(d, ALPINE)
    with state_of(d) as state:
        return state.pending(org_guid)


def bad_ben() -> LdifSource:
    """Ben's mail in a domain the organization does not have: his creation fails, every run."""
    return LdifSource(forest().replace(b"ben@alpineskihouse.com", b"ben@elsewhere.example"))


def test_a_failing_object_is_remembered_and_tried_each_run_until_it_succeeds(
    deployment: Deployment, tmp_path: Path
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    first = sync(deployment, ALPINE, bad_ben())
    assert [(e.source_dn, e.source_guid) for e in first.errors] == [(BEN_SOURCE, BEN)]
    ben = pending(deployment)
    assert list(ben) == [BEN] and ben[BEN].attempts == 1 and ben[BEN].source_dn == BEN_SOURCE
    assert ben[BEN].code == first.errors[0].code and ben[BEN].reason == first.errors[0].reason
    assert ben[BEN].first_seen == ben[BEN].last_seen

    again = sync(deployment, ALPINE, bad_ben())
    assert [e.source_dn for e in again.errors] == [BEN_SOURCE]  # reported again, every run
    later = pending(deployment)[BEN]
    assert later.attempts == 2 and later.first_seen == ben[BEN].first_seen
    assert later.last_seen > ben[BEN].last_seen

    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH)))
    [shown] = status.findall("data/pending/object")
    assert shown.get("object") == BEN_SOURCE and shown.get("objectGUID") == BEN
    assert shown.get("attempts") == "2" and shown.get("code") == f"{later.code:#010x}"
    assert shown.text == later.reason
    home = str(Path(str(deployment.sql.url.database)).parent)
    cli = runner.invoke(app, ["--home", home, "sync", "status", "--org", ASH], env={"COLUMNS": "300"})
    assert cli.exit_code == 0 and "failing objects" in cli.output and BEN in cli.output

    fixed = sync(deployment, ALPINE, LdifSource(forest()))
    assert fixed.errors == [] and fixed.counts["create"] == 1
    assert pending(deployment) == {}
    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH)))
    assert status.findall("data/pending/object") == []


def test_a_failing_object_deleted_or_out_of_scope_at_the_source_is_forgotten(
    deployment: Deployment,
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, bad_ben())
    assert list(pending(deployment)) == [BEN]
    gone = sync(deployment, ALPINE, LdifSource(forest(without=(BEN,))))
    assert gone.errors == [] and pending(deployment) == {}
    sync(deployment, ALPINE, bad_ben())
    assert list(pending(deployment)) == [BEN]
    no_mail = forest().replace(b"mail: ben@alpineskihouse.com\n", b"")  # out of scope: no mail
    assert sync(deployment, ALPINE, LdifSource(no_mail)).errors == [] and pending(deployment) == {}


def test_a_held_deprovisioning_stays_pending_and_is_reported_each_run(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    assert sync(deployment, ALPINE, LdifSource(forest())).errors == []
    ok(deployment.submit(sp("SetLitigationHold", user=AMY_DN.ldap_path, reason="case 7")))
    without = LdifSource(forest(without=(AMY,)))
    for attempt in (1, 2, 3):
        run = sync(deployment, ALPINE, without)
        assert [(e.source_dn, e.source_guid) for e in run.errors] == [(AMY_SOURCE, AMY)]
        assert "litigation hold" in run.errors[0].reason
        amy = pending(deployment)[AMY]
        assert amy.attempts == attempt and "litigation hold" in amy.reason
    ok(deployment.submit(sp("ClearLitigationHold", user=AMY_DN.ldap_path)))
    released = sync(deployment, ALPINE, without)
    assert released.errors == [] and released.counts["delete"] == 1 and pending(deployment) == {}


def test_a_preview_or_a_stopped_run_leaves_the_failing_objects_as_they_were(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    sync(deployment, ALPINE, bad_ben())
    before = pending(deployment)
    assert sync(deployment, ALPINE, LdifSource(forest()), preview=True).errors == []
    assert pending(deployment) == before
    shrunk = LdifSource(forest(without=(AMY, BEN)).replace(b"objectClass: contact", b"objectClass: x"))
    assert sync(deployment, ALPINE, shrunk, threshold=1).outcome == "stopped"
    assert pending(deployment) == before


def test_a_run_dying_before_it_records_its_failures_and_cookie_is_applied_again_without_duplicates(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failed objects, the cookie and the run record are one transaction after the directory's:
    a run dying before it leaves them as they were, and the next run's writes are idempotent."""
    make_alpineskihouse(deployment, exchange=True)

    def dies(self: SqlSyncState, org: str, failed: list[PendingObject]) -> None:
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(SqlSyncState, "keep_pending", dies)
        with pytest.raises(SystemExit):
            sync(deployment, ALPINE, bad_ben())
    assert pending(deployment) == {} and runs(deployment) == []
    resumed = sync(deployment, ALPINE, bad_ben())
    assert resumed.actions == [("create", "user", BEN_SOURCE)]  # only the one that failed
    assert [e.source_dn for e in resumed.errors] == [BEN_SOURCE]
    assert pending(deployment)[BEN].attempts == 1
    assert sum(1 for cn in managed(deployment) if cn.startswith("amy")) == 1


def test_an_ldif_snapshot_reads_objects_again_by_objectguid() -> None:
    source = LdifSource(forest())
    again = source.reread([AMY, "abababab-abab-abab-abab-abababababab"])
    assert [o.guid for o in again.objects] == [AMY] and again.objects[0].dn == AMY_SOURCE
    assert again.deleted == ["abababab-abab-abab-abab-abababababab"] and not again.full


def runs(d: Deployment) -> list[tuple[int, str]]:
    org_guid, _ = organization(d, ALPINE)
    with state_of(d) as state:
        return [(r.run_id, r.outcome) for r in state.runs(org_guid, limit=100)]


def test_run_records_are_pruned_but_the_last_successful_one_is_kept(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    deployment.run_retention = RunRetention(runs=2, days=1)
    good = sync(deployment, ALPINE, LdifSource(forest()))
    assert good.outcome == "completed"
    dan = (
        "\ndn: CN=Dan,OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: Dan\n"
        "objectGUID: 66666666-6666-6666-6666-666666666666\nmail: dan@elsewhere.example\n"
    )
    with_dan = LdifSource(forest() + dan.encode())
    errors = [sync(deployment, ALPINE, with_dan).run_id for _ in range(4)]
    # every run of the last day is kept, however many
    assert [r for r, _ in runs(deployment)] == [*reversed(errors), good.run_id]
    with deployment.sql.begin() as c:  # the first three runs are now older than a day
        old = datetime.now(UTC) - timedelta(days=2)
        ids = [good.run_id, *errors[:2]]
        c.execute(update(sync_runs).where(sync_runs.c.id.in_(ids)).values(started=old, finished=old))
    last = sync(deployment, ALPINE, with_dan)
    # kept: the last two, what is younger than a day, and the last successful run however old
    assert runs(deployment) == [
        (last.run_id, "errors"),
        (errors[3], "errors"),
        (errors[2], "errors"),
        (good.run_id, "completed"),
    ]
    assert list(pending(deployment)) == ["66666666-6666-6666-6666-666666666666"]  # never pruned
    with deployment.sql.connect() as c:
        assert c.execute(select(sync_runs.c.id).where(sync_runs.c.id == errors[0])).first() is None


def test_sync_run_prunes_by_the_deployments_setting(deployment: Deployment, tmp_path: Path) -> None:
    make_alpineskihouse(deployment, exchange=True)
    home = str(Path(str(deployment.sql.url.database)).parent)
    snapshot = tmp_path / "forest.ldif"
    snapshot.write_bytes(forest())
    keep = {"COLUMNS": "250", "OPENMPS_SYNC_KEEP_RUNS": "2", "OPENMPS_SYNC_KEEP_DAYS": "0"}

    def cli(*arguments: str, env: dict[str, str] = keep) -> Result:
        return runner.invoke(app, ["--home", home, "sync", *arguments], env=env)

    for _ in range(4):
        assert cli("run", "--org", ASH, "--from-ldif", str(snapshot)).exit_code == 0
    assert len(runs(deployment)) == 2  # OPENMPS_SYNC_KEEP_RUNS, nothing kept for its age
    bad = cli("run", "--org", ASH, "--from-ldif", str(snapshot), env={**keep, "OPENMPS_SYNC_KEEP_RUNS": "0"})
    assert bad.exit_code != 0 and "OPENMPS_SYNC_KEEP_RUNS" in bad.output
    assert len(runs(deployment)) == 2


def test_the_status_lists_the_oldest_failing_objects_and_counts_them_all(deployment: Deployment) -> None:
    """GetSyncStatus lists the first PENDING_SHOWN failing objects, oldest first, and how many there
    are; the daemon's line for a run counts its failing objects."""
    make_alpineskihouse(deployment, exchange=True)
    many = PENDING_SHOWN + 3
    bad = "".join(
        f"\ndn: CN=U{i},OU=Staff,DC=corp,DC=example\nobjectClass: user\ncn: U{i}\n"
        f"objectGUID: {uuid.UUID(int=i + 1)}\nmail: u{i}@elsewhere.example\n"
        for i in range(many)
    )
    stop = threading.Event()
    lines: list[str] = []

    def told(outcome: Outcome) -> None:
        lines.append(outcome.line())
        stop.set()

    source = {ALPINE: LdifSource(forest() + bad.encode())}
    assert serve(deployment, lambda: source, interval=0, stop=stop, told=told) == 1
    [line] = lines
    assert line.startswith(f"{ALPINE}: run ") and line.endswith(
        f"errors: create {many + 4}, update 0, delete 0, skipped 1; failing objects {many}"
    )
    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH)))
    shown = status.findall("data/pending/object")
    assert len(shown) == PENDING_SHOWN and status.findtext("data/pendingTotal") == str(many)
    assert [o.get("objectGUID") for o in shown] == sorted(str(uuid.UUID(int=i + 1)) for i in range(many))[
        :PENDING_SHOWN
    ]
    clean = sync(deployment, ALPINE, LdifSource(forest()))
    assert clean.failing == 0
    status = ok(deployment.submit(sp("GetSyncStatus", organization=ASH)))
    assert status.findall("data/pending/object") == [] and status.findtext("data/pendingTotal") == "0"


def test_a_run_dying_after_the_engine_committed_never_adopts_an_object_made_since(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ben's creation fails in a batch the engine commits, and the run dies right after: no link
    to where Ben would be was left behind, so an object someone makes there before the next run is
    not taken for Ben's (that run tries Ben again and says why he fails)."""
    make_alpineskihouse(deployment, exchange=True)
    assert sync(deployment, ALPINE, LdifSource(forest(without=(BEN,)))).errors == []
    run = deployment.engine.run

    def dies_after_the_commit(*args: Any, **kwargs: Any) -> Any:
        run(*args, **kwargs)
        raise SystemExit("killed")

    monkeypatch.setattr(deployment.engine, "run", dies_after_the_commit)
    with pytest.raises(SystemExit):
        sync(deployment, ALPINE, bad_ben())
    monkeypatch.undo()
    where = ALPINE.child("CN", "ben@elsewhere.example")
    ok(
        deployment.submit(
            he("CreateContact", container=ASH, name=where.rdn_value, targetAddress="b@x.example")
        )
    )
    again = sync(deployment, ALPINE, bad_ben())
    assert [(e.source_dn, e.source_guid) for e in again.errors] == [(BEN_SOURCE, BEN)]
    org_guid, _ = organization(deployment, ALPINE)
    with state_of(deployment) as state:
        assert BEN not in state.links(org_guid)
    with deployment.transaction() as providers:
        assert providers.directory.get(where).has_class("contact")  # still the contact, untouched
