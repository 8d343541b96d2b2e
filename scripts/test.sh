#!/usr/bin/env bash
# Installs what the tests need and runs every test:
#   1. the doctest suite against SQLite
#   2. the same suite against a real PostgreSQL 15 cluster started here on loopback (and stopped),
#      and the real binary through a database outage (tests/faults/db_outage.mjs: its own cluster)
#      and two instances, one frozen past its lease (tests/faults/stall_fencing.mjs: its own cluster)
#   3. the suite built with AddressSanitizer + UndefinedBehaviorSanitizer (SQLite and PostgreSQL)
#   4. smoke tests of the real binary (config check, SIGTERM exits 0)
#   5. the browser tests: Playwright driving Debian's Chromium against the real binary
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh --test
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}  # cache hits across clones in different directories
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
jobs=$(nproc)
step() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d /tmp/arclight-test.XXXXXX)
pg_dir=$work/pg
server_pid=""
fresh_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$fresh_pid" ] && kill "$fresh_pid" 2>/dev/null || true
  scripts/pg-cluster.sh stop "$pg_dir" || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

step "build (warnings are errors)"
# Line tables only (-g1): the builds are most of a fresh machine's test run, and -g1 takes about a
# quarter off them; sanitizer reports and backtraces keep function names and file:line.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARCLIGHT_WERROR=ON -DARCLIGHT_BUILD_TESTS=ON \
  -DARCLIGHT_BUILD_BENCH=ON -DARCLIGHT_LINE_TABLES_ONLY=ON >/dev/null
cmake --build build -j "$jobs"

step "layer boundaries (core includes no module; a module cannot include another's private header)"
bash scripts/check-boundaries.sh build

step "doctest suite on SQLite"
ARCLIGHT_TEST_DB=sqlite build/tests/arclight_tests

step "start PostgreSQL 15 on loopback"
pg_url=$(scripts/pg-cluster.sh start "$pg_dir" "${ARCLIGHT_TEST_PG_PORT:-55432}")
echo "$pg_url"

step "doctest suite on PostgreSQL"
ARCLIGHT_TEST_DB=postgres ARCLIGHT_TEST_PG_URL=$pg_url build/tests/arclight_tests

step "database outage against the real binary (a PostgreSQL cluster stopped, flooded, started again)"
FAULTS_PG_PORT=${ARCLIGHT_TEST_FAULTS_PG_PORT:-55462} node tests/faults/db_outage.mjs

step "an instance frozen past its lease (SIGSTOP): another finishes its runs, its stale writes are fenced"
FAULTS_STALL_PG_PORT=${ARCLIGHT_TEST_STALL_PG_PORT:-55463} node tests/faults/stall_fencing.mjs

step "scripts/new-module: a new module builds and passes its test at once (scratch clone)"
scratch=$work/new-module
git clone -q "$root" "$scratch"
(cd "$scratch" && scripts/new-module demo >/dev/null)
touched=$(cd "$scratch" && git status --porcelain --untracked-files=all | cut -c4- |
  grep -vE '^(modules/demo/|schema/demo/|tests/modules/demo/|web/src/pages/demo)' || true)
if [ -n "$touched" ]; then echo "new-module touched files outside the new module: $touched" >&2; exit 1; fi
ln -s "$root/web/node_modules" "$scratch/web/node_modules"
(cd "$scratch/web" && npx tsc --noEmit)
CCACHE_BASEDIR=$scratch cmake -S "$scratch" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DARCLIGHT_WERROR=ON -DARCLIGHT_BUILD_TESTS=ON -DARCLIGHT_BUILD_BENCH=OFF -DARCLIGHT_LINE_TABLES_ONLY=ON \
  -DARCLIGHT_WEB_DIST="$root/build/web-dist" >/dev/null
CCACHE_BASEDIR=$scratch cmake --build "$scratch/build" -j "$jobs" --target arclight_tests
bash scripts/check-boundaries.sh "$scratch/build"
ARCLIGHT_TEST_DB=sqlite "$scratch/build/tests/arclight_tests" -tc='demo*'
ARCLIGHT_TEST_DB=postgres ARCLIGHT_TEST_PG_URL=$pg_url "$scratch/build/tests/arclight_tests" -tc='demo*'
rm -rf "$scratch"

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DARCLIGHT_SANITIZE=ON -DARCLIGHT_WERROR=ON \
  -DARCLIGHT_BUILD_TESTS=ON -DARCLIGHT_BUILD_BENCH=OFF -DARCLIGHT_LINE_TABLES_ONLY=ON -DARCLIGHT_WEB_DIST="$root/build/web-dist" >/dev/null
cmake --build build-asan -j "$jobs" --target arclight_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "sanitizer suite on SQLite"
ARCLIGHT_TEST_DB=sqlite build-asan/tests/arclight_tests
step "sanitizer suite on PostgreSQL"
ARCLIGHT_TEST_DB=postgres ARCLIGHT_TEST_PG_URL=$pg_url build-asan/tests/arclight_tests
unset ASAN_OPTIONS UBSAN_OPTIONS
scripts/pg-cluster.sh stop "$pg_dir"

step "binary smoke tests"
build/arclight version
build/arclight config check --config config/arclight.toml >/dev/null
if ARCLIGHT_SERVER_PORT=notaport build/arclight config check 2>"$work/check.err"; then
  echo "config check accepted a bad port" >&2; exit 1
fi
grep -q "ARCLIGHT_SERVER_PORT" "$work/check.err"

step "browser tests (Playwright + Debian chromium)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# serve NAME: a server on an ephemeral port with its own SQLite database and log under $work;
# sets $served_pid and $served_url.
serve() {
  ARCLIGHT_SERVER_PORT=0 ARCLIGHT_DATABASE_URL="sqlite:$work/$1.db" ARCLIGHT_SYSTEM_HEARTBEAT_SECONDS=1 \
    build/arclight serve --config config/arclight.toml >"$work/$1.log" 2>&1 &
  served_pid=$!
  served_url=""
  for _ in $(seq 1 100); do
    served_url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/$1.log" | head -n1)
    [ -n "$served_url" ] && break
    sleep 0.1
  done
  [ -n "$served_url" ] || { cat "$work/$1.log" >&2; exit 1; }
}
ui_password="browser-test $(date +%s%N)"
ARCLIGHT_DATABASE_URL="sqlite:$work/ui.db" ARCLIGHT_ADMIN_PASSWORD="$ui_password" \
  build/arclight user add --admin admin --config config/arclight.toml
serve ui
server_pid=$served_pid url=$served_url
# A second server with a fresh database and no user, for the first-hour walk (its set-up page).
serve fresh
fresh_pid=$served_pid fresh_url=$served_url
echo "server at $url; fresh server at $fresh_url"
ARCLIGHT_URL=$url ARCLIGHT_FRESH_URL=$fresh_url ARCLIGHT_TEST_USER=admin ARCLIGHT_TEST_PASSWORD="$ui_password" \
  ARCLIGHT_SCREENSHOT=$root/build/ui-dashboard.png ARCLIGHT_SCREENSHOT_DIR=$root/build/ui-screens node tests/browser/ui.test.mjs
kill -TERM "$fresh_pid"
wait "$fresh_pid" || true
fresh_pid=""

step "graceful stop: SIGTERM exits 0"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" != 0 ]; then cat "$work/ui.log" >&2; echo "server exited with $status" >&2; exit 1; fi
grep -q '\[app\] stopped' "$work/ui.log"

step "all tests passed"
