"""``openmps sync``: keep an organization in step with its customer's forest (issue 14)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from openmps.errors import MpsError
from openmps.sync.ldif_source import LdifSource
from openmps.sync.planner import Action
from openmps.sync.runner import organization, state_of, sync
from openmps.types import DN

sync_app = typer.Typer(help="Service provisioning sync from a customer's forest.", no_args_is_help=True)
Org = Annotated[str, typer.Option("--org", help="LDAP:// path or DN of the business organization")]


def _org(path: str) -> DN:
    try:
        return DN.from_path(path) if path.upper().startswith("LDAP://") else DN.parse(path)
    except (ValueError, MpsError):
        from openmps.cli.main import err

        err.print(f"--org: '{path}' is not an LDAP path or DN", highlight=False)
        raise typer.Exit(2) from None


@sync_app.command("run")
def run_command(
    org: Org,
    from_ldif: Annotated[
        Path | None, typer.Option("--from-ldif", help="an LDIF snapshot of the forest (- for standard input)")
    ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="report every action; write nothing")] = False,
    confirm_deletes: Annotated[
        bool, typer.Option("--confirm-deletes", help="go on past the deletion threshold, this run only")
    ] = False,
) -> None:
    """Sync the organization from its source, by its stored configuration (SetSyncConnection's
    source OUs, SetSyncRules' rules and deletion threshold).  Exit 0: completed without an object
    error; 1: completed with object errors or stopped at the deletion threshold; 2: usage."""
    from openmps.cli.main import deployment, err, fail, out

    target = _org(org)
    if from_ldif is None:
        # the stored connection (SetSyncConnection) is read by the LDAP source, which this build
        # does not have yet; its scope and rules apply to an LDIF snapshot already
        err.print("--from-ldif is needed: this build reads no LDAP source yet")
        raise typer.Exit(2)
    try:
        data = sys.stdin.buffer.read() if str(from_ldif) == "-" else from_ldif.read_bytes()
    except OSError as exc:
        err.print(f"cannot read {from_ldif}: {exc.strerror}")
        raise typer.Exit(2) from None
    d = deployment()
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("syncing", total=None)

            def advance(action: Action) -> None:
                bar.advance(task)

            done = sync(
                d,
                target,
                LdifSource(data),
                preview=preview,
                confirm_deletes=confirm_deletes,
                progress=advance,
            )
    except MpsError as exc:
        raise fail(exc) from None
    title = "preview: nothing was written" if preview else f"run {done.run_id}: {done.outcome}"
    table = Table("action", "objects", title=title)
    for verb, count in done.counts.items():
        table.add_row(verb, str(count))
    out.print(table)
    if preview:
        for verb, kind, dn in done.actions:
            out.print(f"{verb} {kind} {dn}", highlight=False)
    for dn, why in done.skipped:
        err.print(f"skipped {dn}: {why}", highlight=False)
    for error in done.errors:
        err.print(f"error {error.code:#010x} {error.source_dn}: {error.reason}", highlight=False)
    if done.stopped:
        err.print(done.stopped, highlight=False)
    if done.errors or done.stopped:
        raise typer.Exit(1)


@sync_app.command("status")
def status_command(org: Org) -> None:
    """The organization's last sync runs: when, outcome, counts per action, errors."""
    from openmps.cli.main import deployment, fail, out

    target = _org(org)
    d = deployment()
    try:
        org_guid, _ = organization(d, target)
    except MpsError as exc:
        raise fail(exc) from None
    with state_of(d) as state:
        runs = state.runs(org_guid)
    table = Table("run", "finished", "outcome", "counts", "errors", title=f"sync runs of {target}")
    for record in runs:
        report = json.loads(record.report)
        counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
        table.add_row(
            str(record.run_id),
            record.finished.isoformat(timespec="seconds"),
            record.outcome,
            counts,
            str(len(report["errors"])),
        )
    out.print(table)
