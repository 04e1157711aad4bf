"""``openmps init|serve --database URL``: a deployment on PostgreSQL as a user sets it up.  The URL
is recorded in the home (0600) and found by every later command; it is never printed; a driver that
is not installed is one line naming the fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from openmps.app import DATABASE_FILE, open_deployment
from support import ADMIN_PASSWORD, create_database


def openmps(home: Path, *arguments: str) -> tuple[int, str]:
    """The command as a user runs it: a process of its own (its connections end with it)."""
    done = subprocess.run(
        [sys.executable, "-m", "openmps", "--home", str(home), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_init_with_a_database_records_it_for_every_later_command(
    postgres_server: str, tmp_path: Path
) -> None:
    url = create_database(postgres_server, "cli_database")
    home = tmp_path / "home"
    code, output = openmps(
        home, "init", "--domain", "fabrikam.com", "--admin-password", ADMIN_PASSWORD, "--database", url
    )
    assert code == 0, output
    assert url not in output and url.split("@")[0] not in output  # neither the URL nor its credentials
    recorded = home / DATABASE_FILE
    assert stat.S_IMODE(recorded.stat().st_mode) == 0o600 and recorded.read_text().strip() == url
    assert not (home / "openmps.db").exists()
    # a later command finds the store without being told
    code, output = openmps(home, "procedures", "--namespace", "Hosted Exchange")
    assert code == 0, output
    d = open_deployment(home)
    try:
        assert d.sql.url.get_backend_name() == "postgresql"
        assert d.administrator().name == "administrator@fabrikam.com"
    finally:
        d.sql.dispose()
    code, output = openmps(home, "check")
    assert code == 0, output
    code, output = openmps(home, "serve", "--database", postgres_server, "--port", "1")
    assert code == 2 and "keeps its store elsewhere" in output
    assert postgres_server not in output


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (
            "postgresql+psycopg2://openmps:s3cret-pw@127.0.0.1/openmps",
            "'psycopg2' is not installed: pip install 'openmps[postgresql]'",
        ),
        ("mysql+pymysql://openmps:s3cret-pw@127.0.0.1/openmps", "'pymysql' is not installed"),
        ("nosuch://openmps:s3cret-pw@host/db", "not one SQLAlchemy reads"),
    ],
)
def test_a_missing_driver_or_a_wrong_url_is_one_line_naming_the_fix(
    tmp_path: Path, url: str, words: str
) -> None:
    code, output = openmps(tmp_path / "home", "init", "--domain", "fabrikam.com", "--database", url)
    assert code == 1
    assert words in output and "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert "s3cret-pw" not in output
    assert not (tmp_path / "home" / DATABASE_FILE).exists()
