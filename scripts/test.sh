#!/usr/bin/env bash
# Command 2: set up from a fresh clone and run the whole test suite (lint, architecture, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_project test
# The SQL store's contract suite also runs on a PostgreSQL server it starts (scripts/postgres.sh).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing PostgreSQL"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "== no PostgreSQL server: its contract tier is skipped (apt-get install postgresql)"
  fi
fi
if [ "${CI:-}" = true ]; then
  export OPENMPS_REQUIRE_POSTGRES=1  # in CI, a missing server fails instead of skipping
fi
echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy --strict"
.venv/bin/mypy
echo "== import contracts"
.venv/bin/lint-imports
echo "== docs/api is generated from the registry and must be current"
.venv/bin/python -m openmps.cli.docgen --check
echo "== pytest"
.venv/bin/python -m pytest "$@"
