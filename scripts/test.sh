#!/usr/bin/env bash
# Command 2: set up from a fresh clone and run the whole test suite (lint, architecture, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
install_project test
# The SQL store's contract suite also runs on a PostgreSQL server it starts (scripts/postgres.sh);
# tests/servers start an OpenLDAP server and a Samba AD DC (scripts/openldap.sh, scripts/samba-dc.sh).
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/sbin/slapd ] && command -v ldapsearch >/dev/null || missing+=(slapd ldap-utils)
[ -x /usr/sbin/samba ] && command -v samba-tool >/dev/null || missing+=(samba samba-ad-dc samba-ad-provision)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "== not installed: ${missing[*]}: their tests are skipped (apt-get install ${missing[*]})"
  fi
fi
if [ "${CI:-}" = true ]; then
  # in CI, a missing server fails instead of skipping
  export OPENMPS_REQUIRE_POSTGRES=1
  export OPENMPS_REQUIRE_LDAP=1
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
if [ $# -eq 0 ]; then
  # the whole suite: also the e2e tier on OpenLDAP, two processes with a slapd each (which fail
  # when slapd cannot start); skipped, as the other servers' tests, where slapd is not installed
  if [ -x /usr/sbin/slapd ] || [ "${CI:-}" = true ]; then
    echo "== pytest: the e2e tier on OpenLDAP (tests/e2e/openldap-tier.txt)"
    bash scripts/e2e-openldap.sh
  else
    echo "== not installed: slapd: the e2e tier on OpenLDAP is skipped"
  fi
fi
