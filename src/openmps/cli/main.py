"""The ``openmps`` command: init, submit, serve, and administration helpers.

Exit codes: 0 success; 1 the request ran and its response holds an ``<errorContext>`` (or a
command failed with an OpenMPS error); 2 usage errors.
"""

from __future__ import annotations

import secrets
import string
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openmps.app import (
    Deployment,
    DirectoryServerChoice,
    default_home,
    init_deployment,
    open_deployment,
    registry,
)
from openmps.cli.import_cmd import import_command
from openmps.cli.ldif_cmd import ldif_app
from openmps.errors import InvalidArgument, MpsError
from openmps.types import Secret

app = typer.Typer(add_completion=False, no_args_is_help=True, help="OpenMPS: open hosted provisioning.")
app.add_typer(ldif_app, name="ldif")
app.command("import")(import_command)
err = Console(stderr=True)
out = Console()


class State:
    home: Path = default_home()


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data folder of the deployment (default: $OPENMPS_HOME or ./openmps-data)."),
]


@app.callback()
def main_options(home: HomeOption = None) -> None:
    if home is not None:
        State.home = home


def fail(error: MpsError) -> typer.Exit:
    err.print(f"[red]error[/red] {error.hex_code}: {error.description}")
    return typer.Exit(1)


def generated_password() -> str:
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return core + secrets.choice(string.digits) + "!"  # meets the complexity policy whatever core holds


def deployment() -> Deployment:
    try:
        return open_deployment(State.home)
    except MpsError as exc:
        raise fail(exc) from None


@app.command()
def init(
    domain: Annotated[
        str, typer.Option("--domain", help="DNS name of the hosting domain, e.g. fabrikam.com")
    ],
    admin_password: Annotated[
        str | None,
        typer.Option("--admin-password", help="Password of administrator@<domain> (default: generated)"),
    ] = None,
    directory: Annotated[
        str | None,
        typer.Option(
            "--directory",
            help="Keep the hosting directory on this LDAP server (ldap:// or ldaps://; default: the store)",
        ),
    ] = None,
    directory_bind_dn: Annotated[
        str | None, typer.Option("--directory-bind-dn", help="DN OpenMPS binds to the --directory server as")
    ] = None,
    directory_password_file: Annotated[
        Path | None,
        typer.Option(
            "--directory-password-file",
            help="File (mode 0600) holding the bind password; its path is recorded, never the password",
        ),
    ] = None,
    directory_start_tls: Annotated[
        bool, typer.Option("--directory-start-tls", help="Use StartTLS on an ldap:// --directory URL")
    ] = False,
) -> None:
    """Create a deployment: the store, the domain, OU=Hosting and the administrator account."""
    password = admin_password or generated_password()
    server = None
    if directory is not None:
        if directory_bind_dn is None or directory_password_file is None:
            raise fail(InvalidArgument("--directory needs --directory-bind-dn and --directory-password-file"))
        server = DirectoryServerChoice(
            directory, directory_bind_dn, directory_password_file.resolve(), directory_start_tls
        )
    try:
        d = init_deployment(State.home, domain=domain, admin_password=Secret(password), directory=server)
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
) -> None:
    """Serve POST /provisioning over HTTP, initializing a deployment on first use."""
    import uvicorn

    from openmps.web.app import create_app

    try:
        d = open_deployment(State.home)
    except MpsError:
        password = generated_password()
        try:
            d = init_deployment(State.home, domain=domain, admin_password=Secret(password))
        except MpsError as exc:
            raise fail(exc) from None
        _announce(d, password)
    else:
        pending = d.pending_initial_password()
        if pending is not None:
            out.print(f"The administrator's initial password is in {pending.path} until its first sign-in")
    out.print(
        f"Serving on http://{host}:{port}/provisioning — sign in with HTTP Basic as "
        f"administrator@{d.layout.dns_name}"
    )
    uvicorn.run(create_app(d), host=host, port=port, log_level="warning")


@app.command()
def procedures() -> None:
    """List the namespaces and procedures this deployment answers."""
    table = Table("namespace", "procedure", "access", "role", "description")
    for spec in registry():
        table.add_row(spec.namespace, spec.name, spec.access, spec.requires.name, spec.doc)
    out.print(table)


@app.command()
def audit(limit: Annotated[int, typer.Option(help="How many records")] = 20) -> None:
    """Show the most recent audit records."""
    table = Table("time", "caller", "procedures", "outcome", "ms", "error")
    for r in deployment().audit.recent(limit):
        table.add_row(
            r.at.isoformat(timespec="seconds"),
            r.caller,
            " ".join(r.procedures),
            r.outcome,
            f"{r.duration_ms:.1f}",
            f"{r.error_code} {r.error_description}" if r.error_code else "",
        )
    out.print(table)


def main() -> None:
    app()
