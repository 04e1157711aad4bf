"""The ``openmps`` command: init, submit, serve, and administration helpers.

Exit codes: 0 success; 1 the request ran and its response holds an ``<errorContext>`` (or a
command failed with an OpenMPS error); 2 usage errors.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import ssl
import string
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, ClassVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openmps.app import (
    DATABASE_FILE,
    Deployment,
    DirectoryServerChoice,
    database_url,
    default_home,
    init_deployment,
    open_deployment,
    record_database,
    registry,
)
from openmps.cli.import_cmd import import_command
from openmps.cli.ldif_cmd import ldif_app
from openmps.cli.sync_cmd import sync_app
from openmps.errors import InvalidArgument, MpsError
from openmps.types import Secret

# plain help: flags without a "<bool>" type column, docstrings reflowed to the terminal
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="OpenMPS: open hosted provisioning.",
)
app.add_typer(ldif_app, name="ldif")
app.add_typer(sync_app, name="sync")
app.command("import")(import_command)
# piped to a file or a program, output is as wide as it needs: names are never cut, an error is
# one line
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=100_000)
out = Console() if sys.stdout.isatty() else Console(width=100_000)


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class State:
    home: Path = default_home()
    opened: ClassVar[list[Deployment]] = []  # by this command: closed at its end (main_options)


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data folder of the deployment (default: $OPENMPS_HOME or ./openmps-data)."),
]


@app.callback()
def main_options(
    ctx: typer.Context,
    home: HomeOption = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    if home is not None:
        State.home = home
    ctx.call_on_close(_close_opened)


def _close_opened() -> None:
    """The deployments the command opened closed as ``openmps serve`` closes its own: their idle
    intent log files and those files' marks removed, not left for the next start to sweep."""
    while State.opened:
        State.opened.pop().close_directory()


def fail(error: MpsError) -> typer.Exit:
    err.print(f"[red]error[/red] {error.hex_code}: {escape(error.description)}")  # its brackets are text
    return typer.Exit(1)


def generated_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core + secrets.choice(string.digits) + "!"  # meets the complexity policy whatever core holds


def deployment() -> Deployment:
    """The deployment at --home, closed when the command ends (``_close_opened``)."""
    try:
        d = open_deployment(State.home)
    except MpsError as exc:
        raise fail(exc) from None
    State.opened.append(d)
    return d


DirectoryOption = Annotated[
    str | None,
    typer.Option(
        "--directory",
        help="Keep the hosting directory on this LDAP server (ldap:// or ldaps://; default: the store)",
    ),
]
BindDnOption = Annotated[
    str | None, typer.Option("--directory-bind-dn", help="DN OpenMPS binds to the --directory server as")
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--directory-password-file",
        help="File (mode 0600) holding the bind password; its path is recorded, never the password",
    ),
]
StartTlsOption = Annotated[
    bool, typer.Option("--directory-start-tls", help="Use StartTLS on an ldap:// --directory URL")
]
CaFileOption = Annotated[
    Path | None,
    typer.Option(
        "--directory-ca-file", help="CA certificate (PEM) the --directory server's is checked against"
    ),
]


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Keep the store in this database (postgresql+psycopg://user:password@host/name, empty; "
        "default: SQLite in --home); recorded in --home (0600), never printed",
    ),
]


def _directory_choice(
    url: str | None, bind_dn: str | None, password_file: Path | None, start_tls: bool, ca_file: Path | None
) -> DirectoryServerChoice | None:
    """The --directory options as one choice (None: the directory in the store)."""
    if url is None:
        return None
    if bind_dn is None or password_file is None:
        raise fail(InvalidArgument("--directory needs --directory-bind-dn and --directory-password-file"))
    ca = ca_file.resolve() if ca_file is not None else None
    return DirectoryServerChoice(url, bind_dn, password_file.resolve(), start_tls, ca)


@app.command()
def init(
    domain: Annotated[
        str, typer.Option("--domain", help="DNS name of the hosting domain, e.g. fabrikam.com")
    ],
    admin_password: Annotated[
        str | None,
        typer.Option("--admin-password", help="Password of administrator@<domain> (default: generated)"),
    ] = None,
    directory: DirectoryOption = None,
    directory_bind_dn: BindDnOption = None,
    directory_password_file: PasswordFileOption = None,
    directory_start_tls: StartTlsOption = False,
    directory_ca_file: CaFileOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create a deployment: the store, the domain, OU=Hosting and the administrator account."""
    password = admin_password or generated_password()
    server = _directory_choice(
        directory, directory_bind_dn, directory_password_file, directory_start_tls, directory_ca_file
    )
    try:
        d = init_deployment(
            State.home, domain=domain, admin_password=Secret(password), url=database, directory=server
        )
    except MpsError as exc:
        raise fail(exc) from None
    d.close_directory()
    _announce(d, password if admin_password is None else None)


def _announce(d: Deployment, generated: str | None) -> None:
    out.print(f"[green]Initialized[/green] {d.layout.domain} in {State.home}")
    out.print(f"  administrator: administrator@{d.layout.dns_name}")
    initial = d.initial_password
    if generated is not None and initial is not None:
        initial.write(generated)
        out.print(
            f"  password:      {generated}   (also in {initial.path}, readable by you only,"
            " until the administrator first signs in)"
        )


@app.command()
def submit(
    file: Annotated[str, typer.Argument(help="Request XML file, or - for standard input")],
    user: Annotated[
        str | None, typer.Option("--user", help="Run as this UPN (default: the administrator)")
    ] = None,
    password: Annotated[str | None, typer.Option("--password", help="Password of --user")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run the request whole, answer, then roll it back")
    ] = False,
) -> None:
    """Run one request in-process and print the response XML."""
    if (user is None) != (password is None):
        err.print("--user and --password go together")
        raise typer.Exit(2)
    try:
        document = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        err.print(f"cannot read {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    d = deployment()
    try:
        caller = d.authenticator.authenticate(user, password) if user and password else d.administrator()
    except MpsError as exc:
        raise fail(exc) from None
    outcome = d.submit(document, caller, client="cli", dry_run=dry_run)
    sys.stdout.buffer.write(outcome.to_bytes())
    raise typer.Exit(0 if outcome.ok else 1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    domain: Annotated[str, typer.Option(help="Domain to initialize on first use")] = "fabrikam.com",
    log_level: Annotated[LogLevel, typer.Option(help="Least severe log records written")] = LogLevel.info,
    log_format: Annotated[LogFormat, typer.Option(help="text, or one JSON object per line")] = LogFormat.text,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate (chain) to serve HTTPS with")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Worker processes on the one store (admission limits are per worker)"
        ),
    ] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="Requests each worker runs at once (default: 1 with several workers on SQLite, "
            "else as many as admission lets in)",
            show_default=False,
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Serve POST /provisioning over HTTP (and /health, /health/ready, /metrics), initializing a
    deployment on first use (in --database, if given); an access log line per request on standard
    error."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from openmps.web.app import create_app, default_threads
    from openmps.web.telemetry import configure_logging

    configure_logging(log_level.value, log_format.value)
    if (tls_cert is None) != (tls_key is None):
        err.print("--tls-cert and --tls-key go together")
        raise typer.Exit(2)
    if tls_cert is not None and tls_key is not None:
        _check_tls(tls_cert, tls_key)
    if database is not None and (
        (State.home / "openmps.db").exists()
        or ((State.home / DATABASE_FILE).exists() and database_url(State.home) != database)
    ):
        err.print(f"the deployment in {State.home} keeps its store elsewhere: serve it without --database")
        raise typer.Exit(2)
    try:
        listening = _listen(host, port)  # before any "Serving on": a port in use is said first
    except OSError as exc:
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    try:
        d = open_deployment(State.home, url=database)
    except MpsError:
        password = generated_password()
        try:
            d = init_deployment(State.home, domain=domain, admin_password=Secret(password), url=database)
        except MpsError as exc:
            raise fail(exc) from None
        _announce(d, password)
    if database is not None:
        record_database(State.home, database)  # what the worker processes open
    else:
        pending = d.pending_initial_password()
        if pending is not None:
            out.print(f"The administrator's initial password is in {pending.path} until its first sign-in")
    scheme = "https" if tls_cert else "http"
    out.print(
        f"Serving on {scheme}://{host}:{port}/provisioning — sign in with HTTP Basic as "
        f"administrator@{d.layout.dns_name}"
    )
    cert, key = (str(tls_cert) if tls_cert else None), (str(tls_key) if tls_key else None)
    if threads is None:
        threads = default_threads(d, workers)
    if workers == 1:
        config = uvicorn.Config(
            create_app(d, threads=threads),
            log_level="warning",
            access_log=False,
            log_config=None,
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
        uvicorn.Server(config).run(sockets=[listening])
        return
    # Each worker is a process of its own (spawned: nothing of this one's memory, connections or
    # threads is shared) with a deployment of its own on the same store; what must agree across
    # them lives in the store (accounts, tokens, the ledger) or in the metrics folder below.
    d.sql.dispose()
    with tempfile.TemporaryDirectory(prefix="openmps-metrics-") as metrics:
        os.environ.update(
            OPENMPS_HOME=str(State.home.resolve()),
            OPENMPS_LOG_LEVEL=log_level.value,
            OPENMPS_LOG_FORMAT=log_format.value,
            PROMETHEUS_MULTIPROC_DIR=metrics,
            OPENMPS_THREADS=str(threads or ""),
        )
        config = uvicorn.Config(
            "openmps.web.app:from_environment",
            factory=True,
            workers=workers,
            log_level="warning",
            access_log=False,
            log_config=None,
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
        Multiprocess(config, sockets=[listening]).run()


def _check_tls(cert: Path, key: Path) -> None:
    """Load the certificate and key now: a wrong file is said before anything is served."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        err.print(f"error: cannot serve TLS with {cert} and {key}: {getattr(exc, 'strerror', None) or exc}")
        raise typer.Exit(1) from None


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    listening.set_inheritable(True)
    return listening


JsonOption = Annotated[bool, typer.Option("--json", help="One JSON array, for scripts")]


@app.command("check")
def check_command(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed without a choice")] = False,
    as_json: JsonOption = False,
) -> None:
    """Report drift between the directory, the Resource Manager and the plans database.  Exit 0:
    none (or all of it repaired); 1: drift left."""
    from openmps.check import check

    findings = check(deployment(), repair=repair)
    rows = [
        {"kind": f.kind, "object": f.subject, "problem": f.problem, "repaired": f.repaired} for f in findings
    ]
    if rows or as_json:
        _print_rows(rows, as_json)
    if not as_json:
        left = sum(1 for f in findings if not f.repaired)
        out.print(f"{len(findings)} found, {len(findings) - left} repaired, {left} left")
    raise typer.Exit(1 if any(not f.repaired for f in findings) else 0)


@app.command()
def backup(dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup")]) -> None:
    """Back up the store while the service runs: a consistent snapshot and its manifest."""
    from openmps.backup import backup as take

    try:
        manifest = take(deployment(), dest)
    except MpsError as exc:
        raise fail(exc) from None
    entries = manifest.entries if manifest.directory_entries is None else manifest.directory_entries
    server = "" if manifest.directory_entries is None else " and the directory server"
    out.print(
        f"Backed up {entries} directory entries of {manifest.domain} ({manifest.store}{server}) to {dest}",
        highlight=False,
    )


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A folder made by openmps backup")],
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL backups: the empty database to restore into")
    ] = None,
    directory: DirectoryOption = None,
    directory_bind_dn: BindDnOption = None,
    directory_password_file: PasswordFileOption = None,
    directory_start_tls: StartTlsOption = False,
    directory_ca_file: CaFileOption = None,
) -> None:
    """Restore a backup into a new deployment at --home (which must be new or empty); a backup of
    a deployment on a directory server restores its entries onto the --directory server given,
    where the domain's naming context must be empty."""
    from openmps.backup import restore as put_back

    server = _directory_choice(
        directory, directory_bind_dn, directory_password_file, directory_start_tls, directory_ca_file
    )
    try:
        d = put_back(src, State.home, url=database_url, directory=server)
    except MpsError as exc:
        raise fail(exc) from None
    d.close_directory()
    out.print(f"Restored {d.layout.dns_name} into {State.home}")


@app.command()
def procedures(
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Only this namespace (any case)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the namespaces and procedures this deployment answers."""
    specs = [s for s in registry() if namespace is None or s.namespace.casefold() == namespace.casefold()]
    if namespace is not None and not specs:
        err.print(f"no namespace '{namespace}': see openmps procedures")
        raise typer.Exit(2)
    rows = [
        {
            "namespace": s.namespace,
            "procedure": s.name,
            "access": s.access,
            "role": s.requires.name,
            "description": plain(s.doc),
        }
        for s in specs
    ]
    _print_rows(rows, as_json)


@app.command()
def audit(
    limit: Annotated[int, typer.Option(help="How many records, newest first")] = 20,
    caller: Annotated[str | None, typer.Option(help="Only this caller's (its UPN, any case)")] = None,
    procedure: Annotated[
        str | None, typer.Option(help="Only requests that ran a procedure whose name holds this")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option(help="success, failure, sign-in failure, dry-run success, …")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="At or after this time (ISO 8601, UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time (ISO 8601, UTC)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show audit records, newest first: who ran what, from where, how it ended."""
    records = deployment().audit.search(
        limit=limit, caller=caller, procedure=procedure, outcome=outcome, since=_utc(since), until=_utc(until)
    )
    rows = [
        {
            "time": r.at.isoformat(timespec="seconds"),
            "caller": r.caller,
            "client": r.client,
            "procedures": " ".join(r.procedures),
            "outcome": r.outcome,
            "ms": round(r.duration_ms, 1),
            "error": f"{r.error_code} {r.error_description}" if r.error_code else "",
            "request": r.request_id,
        }
        for r in records
    ]
    _print_rows(rows, as_json)


def _utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone is UTC, as the audit log keeps it."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def plain(text: str) -> str:
    """A docstring summary without its reST markup (````name````, ``:role:`x```), for a terminal."""
    return re.sub(r":\w+:`([^`]*)`", r"\1", text).replace("``", "")


def _print_rows(rows: Sequence[Mapping[str, object]], as_json: bool) -> None:
    """Rows as a table, or as one JSON array; a table piped to a file or a program is never cut."""
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(*(rows[0] if rows else ["(nothing)"]))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)


def _version(value: bool) -> None:
    if value:
        print(f"openmps {package_version('openmps')}")
        raise typer.Exit()


def main() -> None:
    app()
