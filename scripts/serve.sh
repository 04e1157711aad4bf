#!/usr/bin/env bash
# Command 1: set up from a fresh clone and serve OpenMPS on the embedded store (SQLite).
# The first run initializes a deployment in ./openmps-data and prints how to sign in.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/openmps ]; then
  . scripts/venv.sh
  install_project ""
fi
exec .venv/bin/openmps serve "$@"
