"""Backup and restore of a deployment's store, taken while the service runs.

SQLite: SQLite's online backup copies the database page by page from one consistent read
snapshot, so writers go on while it runs and the copy is what was committed when it began.
PostgreSQL: ``pg_dump`` (custom format) reads one snapshot too, restored by ``pg_restore`` into an
empty database.  Either way a ``backup.json`` manifest says what was taken (store, schema
revision, domain, how many directory entries) and a restore checks the copy against it, then opens
it as a deployment (migrating it forward if it is older).  The initial administrator password file
is never copied: a backup holds no clear-text secret.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import func, select, text

from openmps.app import Deployment, open_deployment
from openmps.db.schema import entries
from openmps.db.store import sqlite_url
from openmps.errors import InvalidArgument, InvalidOperation

MANIFEST = "backup.json"
SQLITE_FILE = "openmps.db"
POSTGRES_FILE = "openmps.dump"


@dataclass(frozen=True)
class Manifest:
    store: str  # sqlite | postgresql
    taken: str  # ISO 8601, UTC
    revision: str  # the Alembic revision of the schema
    domain: str
    entries: int
    openmps: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            return cls(**json.loads((folder / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"{folder} holds no OpenMPS backup ({MANIFEST}: {exc})") from None


def backup(d: Deployment, dest: Path) -> Manifest:
    """Copy ``d``'s store into the new folder ``dest`` (private: 0700, files 0600)."""
    _new_folder(dest, "the backup folder")
    url = d.sql.url
    try:
        if url.get_backend_name() == "sqlite":
            revision, count = _sqlite_backup(Path(url.database or ""), dest / SQLITE_FILE)
            store = "sqlite"
        else:
            revision, count = _pg_dump(d, dest / POSTGRES_FILE)
            store = "postgresql"
        manifest = Manifest(store, _now(), revision, d.layout.dns_name, count, version("openmps"))
        _private_write(dest / MANIFEST, manifest.to_json())
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # no half backup is left to be mistaken for one
        raise
    return manifest


def restore(src: Path, home: Path, *, url: str | None = None) -> Deployment:
    """A new deployment in ``home`` from the backup in ``src`` (PostgreSQL: into the empty database
    ``url``); the copy is checked against its manifest before it is used."""
    manifest = Manifest.read(src)
    _new_folder(home, "the home to restore into")
    try:
        if manifest.store == "sqlite":
            target = home / SQLITE_FILE
            shutil.copyfile(src / SQLITE_FILE, target)
            os.chmod(target, 0o600)
            with sqlite3.connect(target) as conn:
                if conn.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                    raise InvalidOperation(f"the backup's database in {src} is damaged")
            d = open_deployment(home, url=sqlite_url(target))
        else:
            if url is None:
                raise InvalidArgument("a PostgreSQL backup restores into an empty database: give its URL")
            _run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--exit-on-error",
                    f"--dbname={_libpq_url(url)}",
                    str(src / POSTGRES_FILE),
                ]
            )
            d = open_deployment(home, url=url)
        with d.sql.connect() as conn:
            count = conn.execute(select(func.count()).select_from(entries)).scalar_one()
        if count != manifest.entries or d.layout.dns_name != manifest.domain:
            raise InvalidOperation(
                f"the restored store holds {count} entries of {d.layout.dns_name}; the backup says "
                f"{manifest.entries} of {manifest.domain}"
            )
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    return d


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
