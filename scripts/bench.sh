#!/usr/bin/env bash
# Set up from a fresh clone and run a benchmark (default: bench/bench_users.py), with its options:
#   ./scripts/bench.sh                                   # CreateBusinessUser rates beside raw baselines
#   ./scripts/bench.sh bench/bench_import.py             # an LDIF migration of 10,000 users
#   ./scripts/bench.sh bench/bench_users.py --users 500
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_project bench
script="bench/bench_users.py"
if [ $# -gt 0 ] && [[ "$1" == *.py ]]; then
  script="$1"
  shift
fi
exec .venv/bin/python "$script" "$@"
