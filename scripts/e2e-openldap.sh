#!/usr/bin/env bash
# The e2e tier on OpenLDAP: the tests tests/e2e/openldap-tier.txt lists, each deployment's hosting
# directory on a slapd of its process's own (OPENMPS_TEST_DIRECTORY=openldap; the session fixture
# starts it with scripts/openldap.sh), dealt out in turn to JOBS pytest processes (default 2: a test
# waits on slapd about as long as it computes). A missing or failing slapd fails the tier
# (OPENMPS_REQUIRE_LDAP): a tier that skipped would pass having shown nothing.
#
#   scripts/e2e-openldap.sh [JOBS] [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-2}
shift || true
mapfile -t tests < <(grep -v '^[[:space:]]*\(#\|$\)' tests/e2e/openldap-tier.txt | awk '{print $1}')
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for ((j = 0; j < jobs; j++)); do
  share=()
  for ((i = j; i < ${#tests[@]}; i += jobs)); do share+=("${tests[i]}"); done
  [ ${#share[@]} -gt 0 ] || continue
  OPENMPS_TEST_DIRECTORY=openldap OPENMPS_REQUIRE_LDAP=1 \
    .venv/bin/python -m pytest -p no:cacheprovider -rs "$@" "${share[@]}" >"$logs/$j" 2>&1 &
  pids+=("$!")
done
status=0
for j in "${!pids[@]}"; do
  wait "${pids[j]}" || status=1
  echo "-- process $((j + 1)) of ${#pids[@]}"
  cat "$logs/$j"
done
exit "$status"
