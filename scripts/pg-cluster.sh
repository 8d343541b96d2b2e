#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL 15 cluster on loopback for the test suite.
#   scripts/pg-cluster.sh start <dir> [port]   -> prints the libpq URL of its "postgres" database
#   scripts/pg-cluster.sh stop <dir>
# Runs the server as the `postgres` system user when invoked as root (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?cluster directory}
port=${3:-55432}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$pgbin/initdb" -D "$dir/data" -U arclight --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # The port may be taken for a moment (another cluster, or a client socket that got it as its
    # ephemeral port): try the next few before giving up.
    started=""
    for try in 0 1 2 3 4 5 6 7; do
      p=$((port + try))
      if as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $p -c unix_socket_directories=$dir -c max_connections=200" start >/dev/null; then
        started=$p
        break
      fi
      grep -q "Address already in use" "$dir/server.log" 2>/dev/null || break
    done
    [ -n "$started" ] || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://arclight@127.0.0.1:$started/postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "usage: $0 start|stop <dir> [port]" >&2; exit 2 ;;
esac
