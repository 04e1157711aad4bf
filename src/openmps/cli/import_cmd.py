"""``openmps import``: bring the organizations and users of an LDIF file under management."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from openmps.directory.ldif import read_entries
from openmps.errors import MpsError
from openmps.migration import Item, migrate


def import_command(
    file: Annotated[
        str, typer.Argument(help="LDIF file of organizations and users, or - for standard input")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report every conflict; write nothing")] = False,
    plan: Annotated[
        str | None,
        typer.Option(
            "--plan", help="mailbox plan for users that have a mailbox (offered to their organizations)"
        ),
    ] = None,
) -> None:
    """Check the file, add what is not in the directory yet, and import every organization and user
    (MPS Import).  Exit 0 when all of it is done, 1 on conflicts or failed items."""
    from openmps.cli.main import deployment, err, fail, out

    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        err.print(f"cannot read {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    d = deployment()
    try:
        entries = read_entries(io.BytesIO(data))
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("importing", total=None)

            def advance(item: Item) -> None:
                bar.advance(task)

            report = migrate(d, entries, dry_run=dry_run, plan=plan, progress=advance)
    except MpsError as exc:
        raise fail(exc) from None
    if report.conflicts:
        table = Table("entry", "conflict", title=f"{len(report.conflicts)} conflicts: nothing was written")
        for conflict in report.conflicts:
            table.add_row(str(conflict.dn), conflict.problem)
        out.print(table)
        raise typer.Exit(1)
    if dry_run:
        out.print(f"no conflicts: {len(entries)} entries would be imported", highlight=False)
        return
    imported, managed, failed_count = (
        [report.count(kind, ok, already_managed=already) for kind in ("organization", "user")]
        for ok, already in ((True, False), (True, True), (False, None))
    )
    out.print(f"{report.added} entries added to the directory", highlight=False)
    out.print(
        f"{_counted(imported)} imported, {_counted(managed)} already under management, "
        f"{_counted(failed_count)} failed",
        highlight=False,
    )
    failed = [i for i in report.items if not i.ok]
    for item in failed:
        err.print(f"{item.kind} {item.dn}: {item.detail}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _counted(counts: list[int]) -> str:
    """``[3, 40]`` as "3 organizations and 40 users" (what the procedures answered, by kind)."""
    organizations, users = counts
    if not organizations and not users:
        return "0"
    said = [
        f"{n} {kind}{'s' if n != 1 else ''}"
        for n, kind in ((organizations, "organization"), (users, "user"))
        if n
    ]
    return " and ".join(said)
