"""``openmps sync``: keep an organization in step with its customer's forest (issue 14)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from openmps.app import Deployment
from openmps.errors import MpsError
from openmps.sync.daemon import Outcome, serve, stored_sources
from openmps.sync.ldap_source import LdapSource, read_password_file
from openmps.sync.ldif_source import LdifSource
from openmps.sync.planner import Action
from openmps.sync.runner import organization, state_of, stored_connection, sync
from openmps.sync.source import Source, SourceConnection
from openmps.syncconfig.interface import PENDING_SHOWN
from openmps.types import DN, Secret

sync_app = typer.Typer(help="Service provisioning sync from a customer's forest.", no_args_is_help=True)
Org = Annotated[str, typer.Option("--org", help="LDAP:// path or DN of the business organization")]


def _org(path: str) -> DN:
    try:
        return DN.from_path(path) if path.upper().startswith("LDAP://") else DN.parse(path)
    except (ValueError, MpsError):
        from openmps.cli.main import err

        err.print(f"--org: '{path}' is not an LDAP path or DN", highlight=False)
        raise typer.Exit(2) from None


LdapUrl = Annotated[
    str | None,
    typer.Option(
        "--from-ldap", help="the customer's domain controller, ldaps:// (or ldap:// with --start-tls)"
    ),
]
BindDn = Annotated[
    str | None, typer.Option("--bind-dn", help="an account of theirs allowed to replicate directory changes")
]
PasswordFile = Annotated[
    Path | None, typer.Option("--password-file", help="a file (0600) holding that account's password")
]
IncludeOus = Annotated[
    list[str] | None,
    typer.Option("--include-ou", help="an OU in scope, with what lies under it (repeat; none: all)"),
]
ExcludeOus = Annotated[list[str] | None, typer.Option("--exclude-ou", help="an OU out of scope (repeat)")]
StartTls = Annotated[bool, typer.Option("--start-tls", help="StartTLS on an ldap:// URL")]
CaFile = Annotated[
    Path | None,
    typer.Option("--ca-file", help="the CA certificates to check the server's with (default: the system's)"),
]


def _ldap(
    url: str,
    bind_dn: str | None,
    password_file: Path | None,
    include: list[str] | None,
    exclude: list[str] | None,
    start_tls: bool,
    ca_file: Path | None,
) -> LdapSource:
    """The source the options name; the password read from its file (0600), never echoed."""
    from openmps.cli.main import err, fail

    if not bind_dn or password_file is None:
        err.print("--from-ldap needs --bind-dn and --password-file")
        raise typer.Exit(2)
    try:
        password = Secret(read_password_file(password_file))
    except MpsError as exc:
        raise fail(exc) from None
    connection = SourceConnection(
        url,
        bind_dn,
        password,
        tuple(include or ()),
        tuple(exclude or ()),
        start_tls,
        str(ca_file) if ca_file else None,
    )
    return LdapSource(connection)


def _stored(d: Deployment, org: DN) -> LdapSource:
    """The organization's forest as its stored connection (SetSyncConnection) reaches it."""
    from openmps.cli.main import err

    connection = stored_connection(d, org)
    if connection is None:
        err.print(
            f"{org.ldap_path} has no stored connection (SetSyncConnection): give --from-ldif or --from-ldap",
            highlight=False,
        )
        raise typer.Exit(2)
    return LdapSource(connection)


@sync_app.command("run")
def run_command(
    org: Org,
    from_ldif: Annotated[
        Path | None, typer.Option("--from-ldif", help="an LDIF snapshot of the forest (- for standard input)")
    ] = None,
    from_ldap: LdapUrl = None,
    bind_dn: BindDn = None,
    password_file: PasswordFile = None,
    include_ou: IncludeOus = None,
    exclude_ou: ExcludeOus = None,
    start_tls: StartTls = False,
    ca_file: CaFile = None,
    preview: Annotated[bool, typer.Option("--preview", help="report every action; write nothing")] = False,
    confirm_deletes: Annotated[
        bool, typer.Option("--confirm-deletes", help="go on past the deletion threshold, this run only")
    ] = False,
) -> None:
    """Sync the organization from its source: an LDIF snapshot, the forest over LDAP as the options
    name it, or (neither) the organization's stored connection (SetSyncConnection); a delta after
    the first LDAP run.  The organization's stored scope and rules apply to every source.  Exit 0:
    completed without an object error; 1: completed with object errors or stopped at the deletion
    threshold, or the source refused; 2: usage."""
    from openmps.cli.main import deployment, err, fail, out

    target = _org(org)
    source: Source
    if from_ldif is not None and from_ldap is not None:
        err.print("--from-ldif and --from-ldap are two sources: give one (or neither: the stored connection)")
        raise typer.Exit(2)
    if from_ldap is not None:
        source = _ldap(from_ldap, bind_dn, password_file, include_ou, exclude_ou, start_tls, ca_file)
    elif from_ldif is not None:
        try:
            data = sys.stdin.buffer.read() if str(from_ldif) == "-" else from_ldif.read_bytes()
        except OSError as exc:
            err.print(f"cannot read {from_ldif}: {exc.strerror}")
            raise typer.Exit(2) from None
        source = LdifSource(data)
    d = deployment()
    try:
        if from_ldif is None and from_ldap is None:
            source = _stored(d, target)
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("syncing", total=None)

            def advance(action: Action) -> None:
                bar.advance(task)

            done = sync(
                d,
                target,
                source,
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
    """The organization's last sync runs (when, outcome, counts per action, errors) and the source
    objects whose last run failed, which each run reads again."""
    from openmps.cli.main import deployment, fail, out

    target = _org(org)
    d = deployment()
    try:
        org_guid, _ = organization(d, target)
    except MpsError as exc:
        raise fail(exc) from None
    with state_of(d) as state:
        runs = state.runs(org_guid)
        pending = state.pending(org_guid, limit=PENDING_SHOWN)
        total = state.pending_count(org_guid) if len(pending) == PENDING_SHOWN else len(pending)
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
    if pending:
        shown = f"the {len(pending)} oldest of {total}" if total > len(pending) else str(total)
        failing = Table(
            "object",
            "objectGUID",
            "since",
            "attempts",
            "last error",
            title=f"failing objects, tried each run: {shown}",
        )
        for p in pending.values():
            failing.add_row(
                p.source_dn,
                p.source_guid,
                p.first_seen.isoformat(timespec="seconds"),
                str(p.attempts),
                f"{p.code:#010x} {p.reason}",
            )
        out.print(failing)


@sync_app.command("daemon")
def daemon_command(
    interval: Annotated[float, typer.Option("--interval", help="seconds between rounds", min=0.1)] = 300.0,
) -> None:
    """Sync every organization that has a stored connection (SetSyncConnection) from its forest every
    --interval seconds (a delta after the first run), each in a run of its own, until SIGTERM or
    SIGINT, which the run under way finishes; a connection set or removed counts at the next round."""
    from openmps.cli.main import deployment, out

    d = deployment()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())

    def told(outcome: Outcome) -> None:
        out.print(outcome.line(), highlight=False)

    out.print(f"syncing the organizations with a stored connection every {interval:g} s", highlight=False)
    rounds = serve(d, lambda: stored_sources(d), interval=interval, stop=stop, told=told)
    out.print(f"stopped after {rounds} rounds", highlight=False)
