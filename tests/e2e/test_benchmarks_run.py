"""The benchmarks still run: each script end to end at a tiny size, in a subprocess.

No rate is asserted (benchmarks are never timed tests); this only keeps ``bench/`` from rotting
when the schema or an API changes underneath it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    ("script", "arguments"),
    [
        ("bench_users.py", ["--users", "20", "--password-users", "2"]),
        ("bench_placement.py", ["--stores", "20", "--orgs", "10"]),
        ("bench_import.py", ["--orgs", "2", "--users", "5"]),
        ("bench_sync.py", ["--users", "40", "--baseline", "20"]),
        pytest.param(
            "bench_ldap.py",
            ["--users", "5", "--reads", "2"],
            marks=pytest.mark.skipif(
                not Path("/usr/sbin/slapd").exists() and not os.environ.get("OPENMPS_REQUIRE_LDAP"),
                reason="no OpenLDAP server (apt-get install slapd ldap-utils)",
            ),
        ),
        # one client: the script's own run and report; the load itself is tests/load's
        ("bench_load.py", ["--clients", "1", "--seconds", "2", "--baseline-seconds", "1"]),
    ],
)
def test_benchmark_runs(script: str, arguments: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio" in done.stdout, done.stdout
