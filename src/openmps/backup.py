"""Backup and restore of a deployment's store, taken while the service runs.

SQLite: SQLite's online backup copies the database page by page from one consistent read
snapshot, so writers go on while it runs and the copy is what was committed when it began.
PostgreSQL: ``pg_dump`` (custom format) reads one snapshot too, restored by ``pg_restore`` into an
empty database.  Either way a ``backup.json`` manifest says what was taken (store, schema
revision, domain, how many directory entries) and a restore checks the copy against it, then opens
it as a deployment (migrating it forward if it is older).  The initial administrator password file
is never copied: a backup holds no clear-text secret.  The deployment's sync key (``sync.key``,
which decrypts the bind passwords the store holds as tokens) is copied beside the store, private
as the rest, so a restored deployment can still reach its customers' forests: keep backups as
privately as the home itself.

A deployment whose directory is an LDAP server (``openmps init --directory``) has the server's own
export of its naming context beside the store's copy (``directory.ldif``: every entry with its user
attributes, read by a paged search; ``openmps.directory.ldap.export``).  A paged search is no
snapshot, so the backup holds off OpenMPS's writers while it reads: it holds the store's write lock
(SQLite) or the directory gate exclusively (PostgreSQL), which every transaction writing to the
server holds from its first write there to its end (``SqlUnitOfWork.on_rollback``), then copies
the store under the same hold.  The two parts are thus one state: each request whole in both or in
neither.  Writes to the server by anything other than OpenMPS are not held off.  Writers wait
while the export runs (up to the busy timeout, then the store-busy answer: send it again).
A restore loads the export into an empty server given to it and points the new deployment there.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text

from openmps.app import Deployment, DirectoryServerChoice, open_deployment, record_database
from openmps.db.schema import entries, settings
from openmps.db.store import DIRECTORY_GATE, make_engine, sqlite_url
from openmps.delegation.layout import Layout
from openmps.directory.ldap.connection import LdapConnection, LdapSettings
from openmps.directory.ldap.export import count_subtree, export_subtree, load_subtree, remove_entries
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.syncconfig.keys import KEY_FILE

MANIFEST = "backup.json"
SQLITE_FILE = "openmps.db"
POSTGRES_FILE = "openmps.dump"
DIRECTORY_FILE = "directory.ldif"


@dataclass(frozen=True)
class Manifest:
    store: str  # sqlite | postgresql
    taken: str  # ISO 8601, UTC
    revision: str  # the Alembic revision of the schema
    domain: str
    entries: int  # in the store (none of the directory's when it is on a server)
    openmps: str
    directory_entries: int | None = None  # in directory.ldif, when the directory is on a server

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            return cls(**json.loads((folder / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"{folder} holds no OpenMPS backup ({MANIFEST}: {exc})") from None


def backup(d: Deployment, dest: Path) -> Manifest:
    """Copy ``d``'s store (and its directory server's entries) into the new folder ``dest``
    (private: 0700, files 0600)."""
    _new_folder(dest, "the backup folder")
    url = d.sql.url
    sqlite = url.get_backend_name() == "sqlite"
    try:
        with _writers_held(d, sqlite):
            directory = _export_directory(d, dest / DIRECTORY_FILE)
            if sqlite:
                revision, count = _sqlite_backup(Path(url.database or ""), dest / SQLITE_FILE)
            else:
                revision, count = _pg_dump(d, dest / POSTGRES_FILE)
        _copy_private(d.home / KEY_FILE if d.home is not None else None, dest / KEY_FILE)
        store = "sqlite" if sqlite else "postgresql"
        manifest = Manifest(store, _now(), revision, d.layout.dns_name, count, version("openmps"), directory)
        _private_write(dest / MANIFEST, manifest.to_json())
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # no half backup is left to be mistaken for one
        raise
    return manifest


def restore(
    src: Path, home: Path, *, url: str | None = None, directory: DirectoryServerChoice | None = None
) -> Deployment:
    """A new deployment in ``home`` from the backup in ``src`` (PostgreSQL: into the empty database
    ``url``; a directory server's export: onto the ``directory`` server, where the naming context
    must not be yet); the copy is checked against its manifest before it is used."""
    manifest = Manifest.read(src)
    if manifest.store == "postgresql" and url is None:
        raise InvalidArgument("a PostgreSQL backup restores into an empty database: give its URL")
    if manifest.directory_entries is not None and directory is None:
        raise InvalidArgument(
            "this backup holds a directory server's entries: give the server to restore them into "
            "(--directory, --directory-bind-dn, --directory-password-file)"
        )
    if manifest.directory_entries is None and directory is not None:
        raise InvalidArgument("this backup's directory is in its store: it takes no directory server")
    server = directory.connect() if directory is not None else None  # a bad password file: nothing made
    _new_folder(home, "the home to restore into")
    loaded: list[str] = []
    try:
        if manifest.store == "sqlite":
            target = home / SQLITE_FILE
            shutil.copyfile(src / SQLITE_FILE, target)
            os.chmod(target, 0o600)
            with sqlite3.connect(target) as conn:
                if conn.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                    raise InvalidOperation(f"the backup's database in {src} is damaged")
            url = sqlite_url(target)
        else:
            assert url is not None
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--exit-on-error",
                    f"--dbname={_libpq_url(url)}",
                    str(src / POSTGRES_FILE),
                ]
            )
        _copy_private(src / KEY_FILE, home / KEY_FILE)
        if directory is not None and server is not None:
            loaded = _load_directory(src, url, directory, server, manifest)
        d = open_deployment(home, url=url)
        record_database(home, url)  # later commands on the new home find its store
        with d.sql.connect() as conn:
            count = conn.execute(select(func.count()).select_from(entries)).scalar_one()
        if count != manifest.entries or d.layout.dns_name != manifest.domain:
            raise InvalidOperation(
                f"the restored store holds {count} entries of {d.layout.dns_name}; the backup says "
                f"{manifest.entries} of {manifest.domain}"
            )
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        if server is not None and loaded:  # the directory server as it was too
            _unload(server, loaded)
        raise
    return d


@contextmanager
def _writers_held(d: Deployment, sqlite: bool) -> Iterator[None]:
    """While the body runs, no OpenMPS transaction writes to the directory server (and, on SQLite,
    none commits): the store's write lock, or the directory gate taken exclusively (PostgreSQL).
    Nothing to hold when the directory is in the store (its copy is one snapshot already)."""
    if d.directory_server is None:
        yield
        return
    with d.sql.connect() as conn, conn.begin():
        if sqlite:
            conn.exec_driver_sql("SELECT 1 FROM settings LIMIT 1")  # the unit begins IMMEDIATE: locked
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:gate)"), {"gate": DIRECTORY_GATE})
        yield


def _export_directory(d: Deployment, target: Path) -> int | None:
    """The directory server's entries below the domain into ``target``; None: no server."""
    if d.directory_server is None:
        return None
    connection = LdapConnection(d.directory_server)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            return export_subtree(connection, d.layout.domain, out)
    finally:
        connection.close()


def _load_directory(
    src: Path, url: str, directory: DirectoryServerChoice, server: LdapSettings, manifest: Manifest
) -> list[str]:
    """Load the backup's directory export onto ``server`` and point the restored store at it; the
    DNs loaded (for :func:`_unload` if the restore fails after)."""
    domain = Layout.for_domain(manifest.domain).domain
    connection = LdapConnection(server)
    try:
        with (src / DIRECTORY_FILE).open("rb") as source:
            loaded = load_subtree(connection, domain, source)
        there = count_subtree(connection, domain)
        if len(loaded) != manifest.directory_entries or there != len(loaded):
            remove_entries(connection, loaded)
            raise InvalidOperation(
                f"the directory server held {there} entries of {manifest.domain} after loading "
                f"{len(loaded)}; the backup says {manifest.directory_entries}"
            )
    finally:
        connection.close()
    sql = make_engine(url)
    try:
        with sql.begin() as conn:  # the backup's server settings replaced (a CA file it had or lacked)
            conn.execute(delete(settings).where(settings.c.name.in_(DirectoryServerChoice.SETTINGS)))
            conn.execute(insert(settings), directory.settings_rows())
    finally:
        sql.dispose()
    return loaded


def _unload(server: LdapSettings, loaded: list[str]) -> None:
    connection = LdapConnection(server)
    try:
        remove_entries(connection, loaded)
    finally:
        connection.close()


def _sqlite_backup(source: Path, target: Path) -> tuple[str, int]:
    """SQLite's online backup: one consistent snapshot, writers go on beside it; the copy's
    schema revision and entry count."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one pass from one read snapshot: what was committed when it began
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if dst.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise InvalidOperation("the backup copy failed its integrity check")
        revision = dst.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        count = dst.execute("SELECT count(*) FROM entries").fetchone()[0]
    finally:
        src.close()
        dst.close()
    os.chmod(target, 0o600)
    return str(revision), int(count)


def _pg_dump(d: Deployment, target: Path) -> tuple[str, int]:
    """``pg_dump`` of the snapshot the revision and count are read in (an exported snapshot held
    open until the dump has read it)."""
    with d.sql.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            count = conn.execute(select(func.count()).select_from(entries)).scalar_one()
            command = ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}"]
            _run([*command, f"--file={target}", _libpq(d)])
    os.chmod(target, 0o600)
    return str(revision), int(count)


def _copy_private(source: Path | None, target: Path) -> None:
    """Copy ``source`` (when there is one) to the new file ``target``, readable by its owner only."""
    if source is None or not source.exists():
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())


def _new_folder(folder: Path, what: str) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise InvalidArgument(f"{what} {folder} is not empty")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _private_write(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)


def _libpq(d: Deployment) -> str:
    return _libpq_url(d.sql.url.render_as_string(hide_password=False))


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq's tools take it (postgresql://…)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def _run(command: list[str]) -> None:
    """Run a PostgreSQL tool; its own message, not its command line (it holds the URL), on failure."""
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 (PostgreSQL tools, no shell)
    except FileNotFoundError:
        raise InvalidOperation(f"{command[0]} is not installed (the PostgreSQL client tools)") from None
    except subprocess.CalledProcessError as exc:
        raise InvalidOperation(f"{command[0]} failed: {exc.stderr.strip()[:300]}") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
