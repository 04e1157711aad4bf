#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: its own cluster in DIR, listening on 127.0.0.1:PORT.
#
#   scripts/postgres.sh start DIR PORT   initdb (trust, UTF-8) and start; prints the SQLAlchemy URL
#   scripts/postgres.sh stop DIR         fast shutdown
#
# Durability is off (fsync, synchronous_commit): the cluster lives as long as a test session.
# initdb refuses to run as root, so as root the cluster belongs to the 'postgres' user.
set -euo pipefail
command=${1:?usage: postgres.sh start DIR PORT | stop DIR}
dir=${2:?usage: postgres.sh start DIR PORT | stop DIR}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres.sh: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 3
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    port=${3:?usage: postgres.sh start DIR PORT}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=200" \
      start >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "postgres.sh: unknown command '$command'" >&2
    exit 2
    ;;
esac
