#!/usr/bin/env bash
# Command 2: set up from a fresh clone and run the whole test suite (lint, architecture, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
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
