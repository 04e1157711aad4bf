"""``openmps ldif``: export and import the raw directory as LDIF (RFC 2849).

For migration, backup and repair by the operator of the deployment: the import writes entries as a
directory administrator would (no provisioning rules, naming or role checks) in one transaction, so
a failing record leaves the store as it was.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from openmps.directory.service import DirectoryService
from openmps.errors import MpsError
from openmps.types import DN

ldif_app = typer.Typer(
    help="Export and import the directory as LDIF (RFC 2849).", no_args_is_help=True, rich_markup_mode=None
)


@ldif_app.command("export")
def export_command(
    base: Annotated[
        str | None,
        typer.Option("--base", help="DN or LDAP:// path of the subtree to export (default: the domain)"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: standard output)")
    ] = None,
) -> None:
    """Write an entry and its subtree, parents first, as LDIF content records."""
    from openmps.cli.main import deployment, err, fail

    d = deployment()
    buffer = io.BytesIO()  # nothing is written unless the export succeeds
    try:
        base_dn = DN.from_path(base) if base is not None else d.layout.domain

        def work(directory: DirectoryService) -> int:
            return directory.export_ldif(base_dn, buffer)

        count = d.read(work)
    except MpsError as exc:
        raise fail(exc) from None
    try:
        if output is None:
            sys.stdout.buffer.write(buffer.getvalue())
            sys.stdout.buffer.flush()
        else:
            output.write_bytes(buffer.getvalue())
    except OSError as exc:
        err.print(f"cannot write {output or 'standard output'}: {exc.strerror}")
        raise typer.Exit(1) from None
    err.print(f"exported {count} entries")


@ldif_app.command("import")
def import_command(
    file: Annotated[str, typer.Argument(help="LDIF file, or - for standard input")],
) -> None:
    """Apply LDIF content and change records in one transaction: all of them or none."""
    from openmps.cli.main import deployment, err, fail, out

    try:
        source: BinaryIO = io.BytesIO(sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes())
    except OSError as exc:
        err.print(f"cannot read {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    try:
        with deployment().transaction() as providers:
            result = providers.directory.import_ldif(source)
    except MpsError as exc:
        raise fail(exc) from None
    out.print(f"added {result.added}, modified {result.modified}, deleted {result.deleted}", highlight=False)
