#!/usr/bin/env bash
# Workflow engine benchmark of the arclight binary, in one sitting (see bench/README.md,
# "Workflow engine").
#
#   SKIP_BUILD=1 BUILD_DIR=/tmp/mybuild bash bench/workflow_bench.sh
#
# On a throwaway SQLite database (and PostgreSQL when BENCH_PG_URL or BENCH_PG=1 is given):
#   * webhook flows with wrk (keep-alive, -t1 -c$CONNECTIONS): requests/s, p50, p99 of
#       hello  GET  /hooks/hello-<mode>  one `respond` task             -> "hello"
#       echo   POST /hooks/echo-<mode>   a `script` task + `respond`    -> the body with "echoed":true
#       chain  GET  /hooks/chain-<mode>  ten chained `script` tasks + `respond` -> {"n":10}
#     in each execution_data mode (none, errors, full), each also as a % of the bare Beast
#     server's GET /healthz (bench_bare_server, the HTTP ceiling, measured in the same sitting);
#   * run throughput with bench_workflow_runs (POST /api/v1/workflows/{id}/runs, completion seen on
#     the WebSocket): a 1-task workflow, a 10-task chain and a 10-way fan-out + join, full mode:
#     runs/s, tasks/s, latency, database rows written per task and per batch (engine counters);
#   * the database's own ceiling with bench_db_ceiling: durable 1-row transactions/s and rows/s
#     in 100-row transactions (and pipelined, PostgreSQL), same disk (same PostgreSQL server);
# and prints the figures with the issue's targets, with the CPU each measurement took (server /
# client / PostgreSQL / everything else) and the engine's counters (GET /api/v1/workflow/stats). Exits 0 whether the targets are met or not (it
# is a measurement); non-zero only when it cannot measure (no binary, a port in use, a server that
# never gets ready, a flow that answers wrongly).
#
# Environment:
#   BUILD_DIR      CMake build directory (default: build), configured with -DARCLIGHT_BUILD_BENCH=ON.
#   SKIP_BUILD=1   never build. Otherwise the script builds only the binaries that are missing
#                  (cmake --build $BUILD_DIR --target ...), or all of them with BUILD=1.
#   DURATION / WARMUP / ROUNDS / CONNECTIONS   wrk: measured run length (10s), unreported warm-up
#                  before each line (2s; 0 = none), measured runs per line, the median is shown (3),
#                  connections (64; one wrk thread).
#   MODES, FLOWS   subsets (default "none errors full", "hello echo chain").
#   RUNS, RUN_WARMUP, RUN_CONNECTIONS, RUN_ROUNDS, RUN_IN_FLIGHT   bench_workflow_runs: runs per
#                  measurement (5000), warm-up runs (500), connections (64), measurements per line,
#                  median shown (3), cap on runs started and not finished (0: none).
#   PROGRAMS       subset of "one chain fanout" for bench_workflow_runs ("" skips them).
#   CEILING_SECONDS  bench_db_ceiling round length (2; 3 rounds).
#   BENCH_PG_URL   libpq URI of an EMPTY PostgreSQL database: the full-mode flows, the run
#                  programs and the ceiling are measured on it too (arclight migrates it; the
#                  script creates the first admin in it).
#   BENCH_PG=1     without BENCH_PG_URL: start a throwaway PostgreSQL cluster in the temporary
#                  directory (scripts/pg-cluster.sh, port $PG_PORT = 18299) and use it.
#   SKIP_SQLITE=1  measure PostgreSQL only (with BENCH_PG_URL or BENCH_PG=1).
#   BARE_PORT, ARCLIGHT_PORT   loopback ports (18290, 18291).
#   ARCLIGHT_EXTRA_ENV   extra VAR=value words for every arclight start (e.g. ARCLIGHT_SERVER_THREADS=1).
#   KEEP_WORK=1    keep the temporary directory (server logs, databases) instead of deleting it.

# shellcheck disable=SC2317  # functions called indirectly (traps, def_$flow, PROGRAM_DEF)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
MODES=${MODES:-"none errors full"}
FLOWS=${FLOWS:-"hello echo chain"}
RUNS=${RUNS:-5000}
RUN_WARMUP=${RUN_WARMUP:-500}
RUN_CONNECTIONS=${RUN_CONNECTIONS:-64}
RUN_ROUNDS=${RUN_ROUNDS:-3}
RUN_IN_FLIGHT=${RUN_IN_FLIGHT:-0}
PROGRAMS=${PROGRAMS-"one chain fanout"}
CEILING_SECONDS=${CEILING_SECONDS:-2}
BENCH_PG_URL=${BENCH_PG_URL:-}
BENCH_PG=${BENCH_PG:-0}
PG_PORT=${PG_PORT:-18299}
BARE_PORT=${BARE_PORT:-18290}
ARCLIGHT_PORT=${ARCLIGHT_PORT:-18291}
read -r -a EXTRA_ENV <<<"${ARCLIGHT_EXTRA_ENV:-}"

# Node-RED's figures (same flows) and the issue's targets.
declare -A NODERED=([hello]=4700 [echo]=4400 [chain]=3100)
TARGET_NONE_FACTOR=5
TARGET_PG_RUNS=3000

ARCLIGHT_BIN="$BUILD_DIR/arclight"
BARE_BIN="$BUILD_DIR/bench/bench_bare_server"
RUNS_BIN="$BUILD_DIR/bench/bench_workflow_runs"
CEILING_BIN="$BUILD_DIR/bench/bench_db_ceiling"
WRK=${WRK:-wrk}

die() { echo "workflow_bench: $*" >&2; exit 2; }
source "$ROOT/bench/lib.sh"

command -v "$WRK" >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"

# ---------------------------------------------------------------------------------------------
# Build: only what is missing (the build directory may be shared), everything with BUILD=1.
targets=()
for t in arclight:"$ARCLIGHT_BIN" bench_bare_server:"$BARE_BIN" bench_workflow_runs:"$RUNS_BIN" bench_db_ceiling:"$CEILING_BIN"; do
    [[ ${BUILD:-0} == 1 || ! -x ${t#*:} ]] && targets+=("${t%%:*}")
done
if ((${#targets[@]})) && [[ ${SKIP_BUILD:-0} != 1 ]]; then
    [[ -f $BUILD_DIR/CMakeCache.txt ]] || die "$BUILD_DIR is not a configured build directory"
    grep -q '^ARCLIGHT_BUILD_BENCH:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" ||
        die "$BUILD_DIR has ARCLIGHT_BUILD_BENCH off: cmake -S $ROOT -B $BUILD_DIR -DARCLIGHT_BUILD_BENCH=ON"
    note "building ${targets[*]} in $BUILD_DIR"
    nice cmake --build "$BUILD_DIR" --target "${targets[@]}" >&2 || die "build failed"
fi
for b in "$ARCLIGHT_BIN" "$BARE_BIN" "$RUNS_BIN" "$CEILING_BIN"; do
    [[ -x $b ]] || die "$b is missing (build it, or unset SKIP_BUILD)"
done

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every process started here is stopped on exit, whatever happens.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arclight-wfbench.XXXXXX")
PIDS=()
PG_DIR=""

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [[ -z $PG_DIR ]] || bash "$ROOT/scripts/pg-cluster.sh" stop "$PG_DIR" >/dev/null 2>&1
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        note "kept $WORK (server logs, databases)"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free "$BARE_PORT" || die "port $BARE_PORT is in use (set BARE_PORT)"
port_free "$ARCLIGHT_PORT" || die "port $ARCLIGHT_PORT is in use (set ARCLIGHT_PORT)"

# start_arclight DB_URL LOG: sets SERVER_PID; waits for /readyz (dies if it never comes).
start_arclight() {
    local url=$1 log=$2 i
    (
        cd "$WORK" || exit 1
        export ARCLIGHT_SERVER_PORT=$ARCLIGHT_PORT ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_ACCESS_LOG=false \
            ARCLIGHT_LOG_LEVEL=warn ARCLIGHT_DATABASE_URL="$url"
        [[ ${#EXTRA_ENV[@]} -eq 0 ]] || export "${EXTRA_ENV[@]}"
        exec "$ARCLIGHT_BIN" serve
    ) >>"$log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for ((i = 0; i < 30000; i++)); do
        http_status "$ARCLIGHT_PORT" /readyz && [[ $HTTP_CODE == 200 ]] && return 0
        alive "$SERVER_PID" || die "arclight exited at start: $(tail -5 "$log")"
        sleep_ms 2
    done
    die "arclight never became ready: $(tail -5 "$log")"
}

start_bare() {
    local i
    "$BARE_BIN" "$BARE_PORT" 1 >"$WORK/bare.log" 2>&1 &
    BARE_PID=$!
    PIDS+=("$BARE_PID")
    for ((i = 0; i < 5000; i++)); do
        http_status "$BARE_PORT" /healthz && [[ $HTTP_CODE == 200 ]] && return 0
        alive "$BARE_PID" || break
        sleep_ms 1
    done
    die "bench_bare_server did not start: $(cat "$WORK/bare.log")"
}

num() { awk -v v="$1" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.0f", v }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf f, a / b }'; }

# ---------------------------------------------------------------------------------------------
# API helpers (curl): the admin + API key of a throwaway database, workflows, checks.
KEY=""
BASE="http://127.0.0.1:$ARCLIGHT_PORT"

# Creates the first admin through the loopback-only setup route and an API key; sets KEY.
create_key() {
    local jar="$WORK/cookies" pw body csrf
    rm -f "$jar"
    pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    body=$(curl -sS --max-time 10 -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$pw\"}" "$BASE/api/v1/auth/setup" 2>&1) ||
        die "POST /api/v1/auth/setup failed: $body"
    csrf=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' <<<"$body")
    [[ -n $csrf ]] || die "POST /api/v1/auth/setup did not create the first admin (is the database empty?): $body"
    body=$(curl -sS --max-time 10 -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
        -d '{"name":"bench","scopes":["*"]}' "$BASE/api/v1/auth/api-keys" 2>&1) || die "POST /api/v1/auth/api-keys failed: $body"
    KEY=$(sed -n 's/.*"key":"\(ak_[^"]*\)".*/\1/p' <<<"$body")
    [[ -n $KEY ]] || die "no API key in the answer of POST /api/v1/auth/api-keys: $body"
}

api() {  # api METHOD PATH [BODY]: prints the body, then a line with the status code
    local m=$1 p=$2 b=${3:-}
    local args=(-sS --max-time 30 -X "$m" -H "Authorization: Bearer $KEY" -w '\n%{http_code}')
    [[ -z $b ]] || args+=(-H 'Content-Type: application/json' --data-binary "$b")
    curl "${args[@]}" "$BASE$p"
}

# create_workflow JSON: prints the new workflow's id.
create_workflow() {
    local out code
    out=$(api POST /api/v1/workflows "$1") || die "POST /api/v1/workflows failed: $out"
    code=${out##*$'\n'}
    [[ $code == 201 ]] || die "POST /api/v1/workflows answered $code: ${out%$'\n'*} (definition: $1)"
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"${out%$'\n'*}"
}

stats() { api GET /api/v1/workflow/stats | head -1; }
stat_of() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

# The definitions. $1 = mode.
def_hello() {
    echo "{\"name\":\"hello-$1\",\"execution_data\":\"$1\",\"active\":true,\"triggers\":[{\"type\":\"webhook\",\"method\":\"GET\",\"path\":\"hello-$1\",\"respond\":\"sync\"}],\"tasks\":[{\"id\":\"r\",\"type\":\"respond\",\"config\":{\"status\":200,\"body\":\"hello\"}}]}"
}
def_echo() {
    echo "{\"name\":\"echo-$1\",\"execution_data\":\"$1\",\"active\":true,\"triggers\":[{\"type\":\"webhook\",\"method\":\"POST\",\"path\":\"echo-$1\",\"respond\":\"sync\"}],\"tasks\":[{\"id\":\"add\",\"type\":\"script\",\"config\":{\"code\":\"local b = input.trigger.body; b.echoed = true; return b\"}},{\"id\":\"reply\",\"type\":\"respond\",\"depends_on\":[\"add\"],\"config\":{\"status\":200,\"body\":\"{{ tasks.add.output }}\"}}]}"
}
def_chain() {
    local tasks='{"id":"s0","type":"script","config":{"code":"return {n = 1}"}}' i
    for ((i = 1; i < 10; i++)); do
        tasks+=",{\"id\":\"s$i\",\"type\":\"script\",\"depends_on\":[\"s$((i - 1))\"],\"config\":{\"code\":\"return {n = input.tasks.s$((i - 1)).output.n + 1}\"}}"
    done
    tasks+=',{"id":"reply","type":"respond","depends_on":["s9"],"config":{"status":200,"body":"{{ tasks.s9.output }}"}}'
    echo "{\"name\":\"chain-$1\",\"execution_data\":\"$1\",\"active\":true,\"triggers\":[{\"type\":\"webhook\",\"method\":\"GET\",\"path\":\"chain-$1\",\"respond\":\"sync\"}],\"tasks\":[$tasks]}"
}
# Programs for bench_workflow_runs (manual runs, full mode): `set` tasks, pure, one row each.
def_one() {
    echo '{"name":"runs-one","execution_data":"full","tasks":[{"id":"a","type":"set","config":{"values":{"n":1}}}]}'
}
def_chainrun() {
    local tasks='{"id":"s0","type":"set","config":{"values":{"n":0}}}' i
    for ((i = 1; i < 10; i++)); do
        tasks+=",{\"id\":\"s$i\",\"type\":\"set\",\"depends_on\":[\"s$((i - 1))\"],\"config\":{\"values\":{\"n\":$i}}}"
    done
    echo "{\"name\":\"runs-chain\",\"execution_data\":\"full\",\"tasks\":[$tasks]}"
}
def_fanout() {
    local tasks="" deps="" i
    for ((i = 0; i < 10; i++)); do
        tasks+="{\"id\":\"f$i\",\"type\":\"set\",\"config\":{\"values\":{\"n\":$i}}},"
        deps+="${deps:+,}\"f$i\""
    done
    tasks+="{\"id\":\"join\",\"type\":\"set\",\"depends_on\":[$deps],\"config\":{\"values\":{\"done\":true}}}"
    echo "{\"name\":\"runs-fanout\",\"execution_data\":\"full\",\"tasks\":[$tasks]}"
}
declare -A PROGRAM_DEF=([one]=def_one [chain]=def_chainrun [fanout]=def_fanout)
declare -A PROGRAM_LABEL=([one]="1 task" [chain]="10-task chain" [fanout]="10-way fan-out + join")
declare -A PROGRAM_TASKS=([one]=1 [chain]=10 [fanout]=11)

ECHO_BODY='{"user":"ada","items":[1,2,3],"nested":{"ok":true,"tag":"bench"}}'
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' "'$ECHO_BODY'" >"$WORK/echo.lua"

# check_flow FLOW MODE: one request; dies unless the flow answers what it should.
check_flow() {
    local flow=$1 mode=$2 out code body
    case $flow in
        echo) out=$(curl -sS --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' --data-binary "$ECHO_BODY" "$BASE/hooks/echo-$mode") ;;
        *) out=$(curl -sS --max-time 10 -w '\n%{http_code}' "$BASE/hooks/$flow-$mode") ;;
    esac || die "$flow-$mode: request failed: $out"
    code=${out##*$'\n'}
    body=${out%$'\n'*}
    local ok=0
    case $flow in
        hello) [[ $body == hello || $body == '"hello"' ]] && ok=1 ;;
        echo) [[ $body == *'"echoed":true'* && $body == *'"user":"ada"'* ]] && ok=1 ;;
        chain) [[ ${body//[[:space:]]/} == '{"n":10}' ]] && ok=1 ;;
    esac
    [[ $code == 200 && $ok == 1 ]] || die "$flow-$mode answers $code '$body', expected 200 with $(
        case $flow in hello) echo '"hello"' ;; echo) echo 'the body plus "echoed":true' ;; chain) echo '{"n":10}' ;; esac)"
}

# ---------------------------------------------------------------------------------------------
# wrk (as in http_bench.sh). RESULTS: label|db|route|req/s|p50|p99|cpu|us/req|rows/run|rows/batch|writer%|errors
RESULTS=()
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
children_ticks() {  # user+sys ticks of this shell's reaped children; runs in this shell
    times >"$WORK/times"
    awk -v hz="$CLK_TCK" 'END { t = 0
        for (i = 1; i <= NF; i++) { split($i, ms, "m"); t += ms[1] * 60 + ms[2] } printf "%d", t * hz }' "$WORK/times"
}
run_child() {  # a background child we wait for: a trapped signal interrupts `wait` at once
    "$@" &
    local pid=$!
    PIDS+=("$pid")
    wait "$pid"
    local rc=$?
    stop_pid "$pid"
    return $rc
}

# CPU ticks of the PostgreSQL cluster this script started: the postmaster, its live children
# (backends, WAL writer, checkpointer...) and its reaped children. 0 when there is none.
PG_PM_PID=""
pg_ticks() {
    [[ -n $PG_PM_PID ]] || { echo 0; return; }
    awk -v pm="$PG_PM_PID" '$1 == pm { s += $14 + $15 + $16 + $17 } $4 == pm { s += $14 + $15 } END { print s + 0 }' \
        /proc/[0-9]*/stat 2>/dev/null
}

# cpu_begin / cpu_end PID: CPU during the measurement, % of one core: server / client /
# PostgreSQL (when the script started it; "-" otherwise) / everything else.
cpu_begin() {
    children_ticks >"$WORK/ticks"
    now_us
    C_T0=$NOW_US C_SYS0=$(busy_ticks) C_SRV0=$(proc_ticks "$1") C_CLI0=$(<"$WORK/ticks") C_PG0=$(pg_ticks)
}
cpu_end() {
    local t1 sys1 srv1 cli1 pg1
    now_us
    t1=$NOW_US sys1=$(busy_ticks) srv1=$(proc_ticks "$1") pg1=$(pg_ticks)
    children_ticks >"$WORK/ticks"
    cli1=$(<"$WORK/ticks")
    CPU=$(awk -v s=$((srv1 - C_SRV0)) -v w=$((cli1 - C_CLI0)) -v a=$((sys1 - C_SYS0)) -v us=$((t1 - C_T0)) -v hz="$CLK_TCK" \
        -v pg=$((pg1 - C_PG0)) -v known="${PG_PM_PID:+1}" '
        BEGIN { k = 100 / (us / 1e6 * hz); o = a - s - w - pg; if (o < 0) o = 0
                printf "%.0f/%.0f/%s/%.0f", s * k, w * k, known ? sprintf("%.0f", pg * k) : "-", o * k }')
    SRV_TICKS=$((srv1 - C_SRV0))
}

# One measured wrk run; sets WRK_LINE to "req/s|p50|p99|cpu|us/req|errors".
wrk_once() {
    local url=$1 pid=$2 out="$WORK/wrk.out"
    shift 2
    cpu_begin "$pid"
    run_child "$WRK" -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1
    cpu_end "$pid"
    wrk_line "$out" "$pid" "$CPU" "$SRV_TICKS"
}

# run_wrk LABEL DB PORT PATH PID [wrk args...]: warm-up, $ROUNDS measured runs, the median run is
# appended to RESULTS with the database rows written per run (engine counters) when KEY is set.
run_wrk() {
    local label=$1 db=$2 port=$3 path=$4 pid=$5 url="http://127.0.0.1:$3$4" i
    shift 5
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        run_child "$WRK" -t1 -c"$CONNECTIONS" -d"$WARMUP" "$@" "$url" >/dev/null 2>&1
    fi
    local s0="" s1="" rows_run=- rows_batch=- busy=- st0 st1
    [[ -z $KEY || $port != "$ARCLIGHT_PORT" ]] || { s0=$(stats); now_us; st0=$NOW_US; }
    local runs=()
    for ((i = 1; i <= ROUNDS; i++)); do
        note "wrk -t1 -c$CONNECTIONS -d$DURATION --latency $* $url   ($label, $db, run $i/$ROUNDS)"
        wrk_once "$url" "$pid" "$@"
        runs+=("$WRK_LINE")
        alive "$pid" || break
    done
    if [[ -n $s0 ]] && alive "$pid"; then
        now_us
        st1=$NOW_US
        sleep_ms 300  # the last commits of the last requests
        s1=$(stats)
        local rw fin wb wt
        rw=$(($(stat_of "$s1" rows_written) - $(stat_of "$s0" rows_written)))
        fin=$(($(stat_of "$s1" runs_finished) - $(stat_of "$s0" runs_finished)))
        wb=$(($(stat_of "$s1" write_batches) - $(stat_of "$s0" write_batches)))
        wt=$(($(stat_of "$s1" write_time_us) - $(stat_of "$s0" write_time_us)))
        rows_run=$(div "$rw" "$fin")
        rows_batch=$(div "$rw" "$wb" %.1f)
        busy=$(div "$((wt * 100))" "$((st1 - st0))" %.0f)
    fi
    local picked spread=""
    picked=$(printf '%s\n' "${runs[@]}" | sort -t'|' -k1,1g | awk -v n="${#runs[@]}" 'NR == int((n + 1) / 2)')
    local e
    e=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f6 | grep -v '^-$' | sort -u | paste -sd';' -)
    if ((${#runs[@]} > 1)); then
        spread=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f1 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
        spread="median of ${#runs[@]} (req/s $spread)"
    fi
    local errs="${e:+$e; }$spread"
    RESULTS+=("$label|$db|$path|${picked%|*}|$rows_run|$rows_batch|$busy|${errs:--}")
}

# field_of ARRAY LABEL DB FIELD: field FIELD (1-based) of the line of ARRAY (RESULTS, RUNRES)
# whose label and db match, or "-".
field_of() {
    local -n lines=$1
    local r f
    for r in "${lines[@]}"; do
        IFS='|' read -r -a f <<<"$r"
        [[ ${f[0]} == "$2" && ${f[1]} == "$3" ]] && { echo "${f[$4 - 1]}"; return; }
    done
    echo -
}
# Field of a RESULTS line: res_of LABEL DB FIELD (4 = req/s, 5 = p50, 6 = p99, 9 = rows/run).
res_of() { field_of RESULTS "$@"; }

# ---------------------------------------------------------------------------------------------
# bench_workflow_runs. RUNRES: label|db|runs/s|tasks/s|p50|p99|srv p50|srv p99|rows/run|rows/task|rows/batch|commits/s|writer%|us/run|cpu|notes
RUNRES=()
# run_programs DB: creates the programs' workflows in the running server and measures each.
run_programs() {
    local db=$1 p
    for p in $PROGRAMS; do
        [[ -n ${PROGRAM_DEF[$p]:-} ]] || die "unknown program $p (PROGRAMS: one chain fanout)"
        local id
        id=$(create_workflow "$(${PROGRAM_DEF[$p]})")
        [[ -n $id ]] || die "no id for program $p"
        local lines=() i out rc=0
        for ((i = 1; i <= RUN_ROUNDS; i++)); do
            note "bench_workflow_runs ${PROGRAM_LABEL[$p]}, $db, $RUNS runs, $RUN_CONNECTIONS connections (round $i/$RUN_ROUNDS)"
            cpu_begin "$SERVER_PID"
            run_child "$RUNS_BIN" --port "$ARCLIGHT_PORT" --key "$KEY" --workflow "$id" --runs "$RUNS" \
                --warmup "$((i == 1 ? RUN_WARMUP : 0))" --connections "$RUN_CONNECTIONS" --in-flight "$RUN_IN_FLIGHT" --tasks "${PROGRAM_TASKS[$p]}" \
                >"$WORK/runs.out" 2>"$WORK/runs.err"
            rc=$?
            cpu_end "$SERVER_PID"
            out=$(grep '^RESULT ' "$WORK/runs.out")
            sed 's/^/   /' "$WORK/runs.out" | grep -v '^   RESULT ' >&2
            [[ -s $WORK/runs.err ]] && sed 's/^/   /' "$WORK/runs.err" >&2
            if [[ -z $out ]]; then
                alive "$SERVER_PID" || die "arclight died during bench_workflow_runs: $(tail -3 "$WORK/runs.err")"
                die "bench_workflow_runs measured nothing: $(tail -3 "$WORK/runs.err")"
            fi
            local started srv_us
            started=$(sed -n 's/.* started=\([0-9]*\).*/\1/p' <<<"$out")
            srv_us=$(awk -v t="$SRV_TICKS" -v hz="$CLK_TCK" -v n="$started" 'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "-" }')
            lines+=("$out cpu=$CPU us_per_run=$srv_us rc=$rc")
        done
        # The round with the median runs/s.
        local picked spread
        picked=$(printf '%s\n' "${lines[@]}" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^runs_per_s=/) { split($i, kv, "="); print kv[2] "\t" $0 } }' |
            sort -g | awk -v n="${#lines[@]}" 'NR == int((n + 1) / 2)' | cut -f2-)
        spread=$(printf '%s\n' "${lines[@]}" | grep -o 'runs_per_s=[0-9.]*' | cut -d= -f2 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }')
        kv() { grep -o "\b$1=[^ ]*" <<<"$picked" | head -1 | cut -d= -f2; }
        local notes=""
        [[ $(kv failed) == 0 ]] || notes+="$(kv failed) runs failed; "
        [[ $(kv open) == 0 ]] || notes+="$(kv open) runs never finished; "
        [[ $(kv refused) == 0 ]] || notes+="$(kv refused) starts refused; "
        [[ $(kv polled) == 0 ]] || notes+="$(kv polled) finishes seen by polling; "
        ((${#lines[@]} > 1)) && notes+="median of ${#lines[@]} (runs/s $spread)"
        local rows_run
        rows_run=$(div "$(kv rows_written)" "$(kv succeeded)")
        # shellcheck disable=SC2016  # awk programs
        local f1='{ printf "%.1f", $1 }' f0='{ printf "%.0f", $1 }'
        RUNRES+=("${PROGRAM_LABEL[$p]}|$db|$(num "$(kv runs_per_s)")|$(num "$(kv tasks_per_s)")|$(kv p50_ms | awk "$f1")|$(kv p99_ms | awk "$f1")|$(kv srv_p50_ms | awk "$f0")|$(kv srv_p99_ms | awk "$f0")|$rows_run|$(kv rows_per_task | awk '{ printf "%.2f", $1 }')|$(kv rows_per_batch | awk "$f1")|$(kv commits_per_s | awk "$f0")|$(kv writer_busy_pct | awk "$f0")|$(kv us_per_run)|$(kv cpu)|${notes:--}")
    done
}
runres_of() { field_of RUNRES "$@"; }  # runres_of LABEL DB FIELD

# bench_db_ceiling: CEILRES: db|1-row commits/s|rows/s in 100-row tx|rows/s pipelined|settings
CEILRES=()
run_ceiling() {
    local db=$1 kind=$2 target=$3 out
    note "bench_db_ceiling $kind ($db): ${CEILING_SECONDS}s rounds"
    out=$(run_child "$CEILING_BIN" "$kind" "$target" --seconds "$CEILING_SECONDS" --rounds 3 2>&1) ||
        { CEILRES+=("$db|-|-|-|failed: $(tr '\n' ' ' <<<"$out")"); return; }
    grep -v '^RESULT ' <<<"$out" | sed 's/^/   /' >&2
    local r
    r=$(grep '^RESULT ' <<<"$out")
    kv2() { grep -o "\b$1=[^ ]*" <<<"$r" | cut -d= -f2-; }
    CEILRES+=("$db|$(num "$(kv2 single_tx_per_s)")|$(num "$(kv2 batch_rows_per_s)")|$(num "$(kv2 pipelined_rows_per_s)")|$(kv2 settings)")
}
ceil_of() {
    local r f
    for r in "${CEILRES[@]}"; do
        IFS='|' read -r -a f <<<"$r"
        [[ ${f[0]} == "$1" ]] && { echo "${f[$2 - 1]}"; return; }
    done
    echo -
}

# measure_flows DB MODES: creates the flows in the running server, checks and measures them.
measure_flows() {
    local db=$1 modes=$2 mode flow
    for mode in $modes; do
        for flow in $FLOWS; do
            case $flow in hello | echo | chain) ;; *) die "unknown flow $flow (FLOWS: hello echo chain)" ;; esac
            create_workflow "$("def_$flow" "$mode")" >/dev/null
            check_flow "$flow" "$mode"
        done
    done
    for mode in $modes; do
        for flow in $FLOWS; do
            local extra=() route="GET /hooks/$flow-$mode"
            [[ $flow == echo ]] && { extra=(-s "$WORK/echo.lua"); route="POST /hooks/$flow-$mode"; }
            run_wrk "$flow, $mode" "$db" "$ARCLIGHT_PORT" "/hooks/$flow-$mode" "$SERVER_PID" "${extra[@]}"
            RESULTS[-1]=$(awk -F'|' -v OFS='|' -v r="$route" '{ $3 = r; print }' <<<"${RESULTS[-1]}")
            alive "$SERVER_PID" || die "arclight died during $flow-$mode: $(tail -5 "$WORK/arclight-$db.log")"
        done
    done
}

# Which code is measured: the binary's build time against the server's sources (a binary older
# than the last commit or uncommitted change under these paths does not measure the tree).
SERVER_PATHS=(core modules schema third_party web/src config CMakeLists.txt)
binary_note() {
    local bin_t head src src_t newest=0 f t
    bin_t=$(stat -c %Y "$ARCLIGHT_BIN")
    head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) ||
        { echo "arclight binary built $(date -u -d "@$bin_t" '+%Y-%m-%d %H:%M UTC') (not a git tree)"; return; }
    src=$(git -C "$ROOT" log -1 --format=%h -- "${SERVER_PATHS[@]}")
    src_t=$(git -C "$ROOT" log -1 --format=%ct -- "${SERVER_PATHS[@]}")
    while IFS= read -r f; do
        t=$(stat -c %Y "$ROOT/$f" 2>/dev/null) || continue
        ((t > newest)) && newest=$t
    done < <(git -C "$ROOT" diff --name-only HEAD -- "${SERVER_PATHS[@]}" 2>/dev/null
        git -C "$ROOT" ls-files --others --exclude-standard -- "${SERVER_PATHS[@]}" 2>/dev/null)
    local dirty=""
    ((newest > 0)) && dirty=" + uncommitted server changes"
    echo "arclight binary built $(date -u -d "@$bin_t" '+%Y-%m-%d %H:%M UTC'); tree $head, last server commit $src" \
        "($(date -u -d "@$src_t" '+%H:%M UTC'))$dirty"
    if ((bin_t < src_t || bin_t < newest)); then
        echo "WARNING: the binary is older than the server's sources (a commit or an uncommitted change): rebuild to measure them"
    fi
}
BINARY_NOTE=$(binary_note)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')

# ---------------------------------------------------------------------------------------------
# 1. The HTTP ceiling: bare Beast, 1 I/O thread, GET /healthz. It is measured again at the end.
start_bare
run_wrk "bare Beast /healthz" "-" "$BARE_PORT" /healthz "$BARE_PID"
BARE_RPS=$(res_of "bare Beast /healthz" "-" 4)
stop_pid "$BARE_PID"

# 2. SQLite: flows in every mode, run programs, ceiling.
if [[ ${SKIP_SQLITE:-0} != 1 ]]; then
    start_arclight "sqlite:$WORK/bench.db" "$WORK/arclight-sqlite.log"
    create_key
    measure_flows sqlite "$MODES"
    [[ -z $PROGRAMS ]] || run_programs sqlite
    stop_pid "$SERVER_PID"
    run_ceiling sqlite sqlite "$WORK/ceiling.db"
fi

# 3. PostgreSQL: full mode flows, run programs, ceiling.
if [[ -z $BENCH_PG_URL && $BENCH_PG == 1 ]]; then
    PG_DIR="$WORK/pg"
    chmod 711 "$WORK"  # the cluster runs as the postgres user when this runs as root
    note "starting a throwaway PostgreSQL cluster in $PG_DIR (port $PG_PORT)"
    BENCH_PG_URL=$(bash "$ROOT/scripts/pg-cluster.sh" start "$PG_DIR" "$PG_PORT") || die "could not start PostgreSQL"
    PG_PM_PID=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
fi
PG_NOTE=""
if [[ -n $BENCH_PG_URL ]]; then
    # shellcheck disable=SC2001  # the URL without user:password@
    PG_NOTE="PostgreSQL: $(sed 's#//[^@]*@#//#' <<<"$BENCH_PG_URL")$([[ -n $PG_DIR ]] && echo " (a cluster started by the script, default settings)")"
    start_arclight "$BENCH_PG_URL" "$WORK/arclight-postgres.log"
    create_key
    measure_flows postgres "full"
    [[ -z $PROGRAMS ]] || run_programs postgres
    stop_pid "$SERVER_PID"
    run_ceiling postgres postgres "$BENCH_PG_URL"
fi

# 4. The ceiling again: did the machine change during the bench?
start_bare
ROUNDS_SAVED=$ROUNDS
ROUNDS=1
run_wrk "bare Beast /healthz (end)" "-" "$BARE_PORT" /healthz "$BARE_PID"
ROUNDS=$ROUNDS_SAVED
stop_pid "$BARE_PID"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Report
verdict() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "" || v == "-") { print "n/a"; exit } print (v + 0 >= lim + 0) ? "PASS" : "FAIL" }'; }
cores=$(nproc)
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
fs=$(df -PT "$WORK" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo
echo "Arclight workflow bench -- $T_START, $cores cores ($cpu), $(uname -sr)"
echo "$BINARY_NOTE"
echo "databases in $WORK ($fs)"
echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warm-up; median of $ROUNDS), loopback, keep-alive; wrk shares the cores"
echo "load average before: $LOAD_BEFORE; after: $LOAD_AFTER"
[[ -z $PG_NOTE ]] || echo "$PG_NOTE"
echo
fmt='%-25s %-8s %-24s %7s %6s %7s %7s  %-15s %7s %8s %10s %7s  %s\n'
# shellcheck disable=SC2059
{
    printf "$fmt" "flow, mode" "db" "route" "req/s" "%bare" "p50 ms" "p99 ms" "cpu% s/c/db/+" "us/req" "rows/run" "rows/batch" "writer%" "errors, notes"
    printf "$fmt" "----------" "--" "-----" "-----" "-----" "------" "------" "-------------" "------" "--------" "----------" "-------" "-------------"
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r l db p rps p50 p99 c uspr rr rb busy errs <<<"$r"
        printf "$fmt" "$l" "$db" "$p" "$rps" "$(pct "$rps" "$BARE_RPS")" "$p50" "$p99" "$c" "$uspr" "$rr" "$rb" "$busy" "$errs"
    done
}
if ((${#RUNRES[@]})); then
    echo
    echo "Runs started with POST /api/v1/workflows/{id}/runs (bench_workflow_runs: $RUNS runs, $RUN_CONNECTIONS connections, in-flight cap $([[ $RUN_IN_FLIGHT == 0 ]] && echo none || echo "$RUN_IN_FLIGHT"); full mode, 'set' tasks)"
    fmt2='%-22s %-8s %7s %8s %7s %7s %7s %7s %8s %9s %10s %9s %7s %6s  %-15s %s\n'
    # shellcheck disable=SC2059
    {
        printf "$fmt2" "program" "db" "runs/s" "tasks/s" "p50 ms" "p99 ms" "srv p50" "srv p99" "rows/run" "rows/task" "rows/batch" "commits/s" "writer%" "us/run" "cpu% s/c/db/+" "notes"
        printf "$fmt2" "-------" "--" "------" "-------" "------" "------" "-------" "-------" "--------" "---------" "----------" "---------" "-------" "------" "-------------" "-----"
        for r in "${RUNRES[@]}"; do
            IFS='|' read -r -a f <<<"$r"
            printf "$fmt2" "${f[@]}"
        done
    }
fi
if ((${#CEILRES[@]})); then
    echo
    echo "Database ceiling (bench_db_ceiling: upserts into a table shaped like workflow_tasks, one connection, same disk)"
    fmt3='%-10s %16s %24s %20s  %s\n'
    # shellcheck disable=SC2059
    {
        printf "$fmt3" "db" "1-row commits/s" "rows/s, 100-row commits" "same, pipelined" "settings"
        printf "$fmt3" "--" "---------------" "-----------------------" "---------------" "--------"
        for r in "${CEILRES[@]}"; do
            IFS='|' read -r -a f <<<"$r"
            printf "$fmt3" "${f[@]}"
        done
    }
fi

echo
printf '%-52s %10s %10s  %s\n' "target" "measured" "limit" "verdict"
printf '%-52s %10s %10s  %s\n' "------" "--------" "-----" "-------"
for flow in $FLOWS; do
    [[ $MODES == *none* && ${SKIP_SQLITE:-0} != 1 ]] || break
    lim=$((NODERED[$flow] * TARGET_NONE_FACTOR))
    v=$(res_of "$flow, none" sqlite 4)
    printf '%-52s %10s %10s  %s\n' "$flow, none mode, SQLite (${TARGET_NONE_FACTOR}x Node-RED ${NODERED[$flow]}) req/s" "$v" "$lim" "$(verdict "$v" "$lim")"
done
for db in sqlite postgres; do
    [[ $db == postgres && -z $BENCH_PG_URL ]] && continue
    [[ $db == sqlite && ${SKIP_SQLITE:-0} == 1 ]] && continue
    [[ $MODES == *full* || $db == postgres ]] || continue
    for flow in $FLOWS; do
        lim=${NODERED[$flow]}
        v=$(res_of "$flow, full" "$db" 4)
        printf '%-52s %10s %10s  %s\n' "$flow, full mode, $db (>= Node-RED) req/s" "$v" "$lim" "$(verdict "$v" "$lim")"
    done
done
if [[ -n $BENCH_PG_URL ]]; then
    v=$(runres_of "1 task" postgres 3)
    printf '%-52s %10s %10s  %s\n' "PostgreSQL durable 1-task runs/s (bench_workflow_runs)" "$v" "$TARGET_PG_RUNS" "$(verdict "$v" "$TARGET_PG_RUNS")"
else
    printf '%-52s %10s %10s  %s\n' "PostgreSQL durable 1-task runs/s" "-" "$TARGET_PG_RUNS" "not run (set BENCH_PG_URL or BENCH_PG=1)"
fi

echo
echo "more:"
echo "  bare Beast /healthz (the HTTP ceiling, 1 I/O thread): $BARE_RPS req/s at the start, $(res_of "bare Beast /healthz (end)" - 4) at the end; %bare = req/s / the start figure"
for db in sqlite postgres; do
    c1=$(ceil_of "$db" 2)
    cb=$(ceil_of "$db" 3)
    [[ $c1 == - ]] && continue
    cp=$(ceil_of "$db" 4)
    for p in $PROGRAMS; do
        rr=$(runres_of "${PROGRAM_LABEL[$p]}" "$db" 9)
        rs=$(runres_of "${PROGRAM_LABEL[$p]}" "$db" 3)
        [[ $rr == - ]] && continue
        rows_s=$(awk -v a="$rr" -v b="$rs" 'BEGIN { printf "%.0f", a * b }')
        echo "  $db, ${PROGRAM_LABEL[$p]}: the engine wrote $rows_s rows/s ($rr rows/run, $(runres_of "${PROGRAM_LABEL[$p]}" "$db" 11) rows/commit," \
            "$(runres_of "${PROGRAM_LABEL[$p]}" "$db" 12) commits/s, writers $(runres_of "${PROGRAM_LABEL[$p]}" "$db" 13)% busy)"
    done
    echo "  $db alone (bench_db_ceiling, one connection): $c1 1-row commits/s, $cb rows/s in 100-row commits$([[ $cp == - ]] || echo ", $cp pipelined")"
done
echo "  cpu% s/c/db/+ = CPU during the measurement in % of one core: server / client (wrk or bench_workflow_runs) /"
echo "  PostgreSQL when the script started the cluster ('-': SQLite runs inside the server; an outside PostgreSQL counts in"
echo "  '+') / everything else (loopback softirq, steal, other processes: if '+' is large the machine was busy, rerun)."
echo "  us/req, us/run = server CPU"
echo "  time per request / per run. rows/run, rows/task, rows/batch, commits/s = engine counters (GET /api/v1/workflow/stats)"
echo "  over the measured runs: state rows written per run / per task, per group-commit transaction, and those transactions"
echo "  per second; writer% = time the state writers spent executing + committing batches, in % of the elapsed time,"
echo "  summed over the writers (SQLite: one; PostgreSQL: workflow.pg_writers, default 4): near 100% per writer, the"
echo "  writers are the bottleneck."
echo "  runs/s = runs / (first POST -> last terminal event); p50/p99 = client side, POST sent -> workflow.run.* event"
echo "  received on /ws; srv p50/p99 = the runs' finished_at - created_at (server clock, ms)."
exit 0
