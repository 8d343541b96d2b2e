#!/usr/bin/env bash
# HTTP benchmark of the arclight binary against a bare Beast server, in one sitting (see bench/README.md).
#
#   bash bench/http_bench.sh
#
# Measures, on loopback with wrk (keep-alive):
#   * requests/s, p50 and p99 latency of GET /healthz on bench_bare_server (1 and 2 I/O threads);
#   * the same for arclight's GET /healthz and GET /api/v1/system/info, with ARCLIGHT_SERVER_THREADS
#     set to each value of $THREADS_LIST;
#   * arclight's time-to-ready (process spawn -> first 200 from /readyz) on SQLite, median of $STARTS
#     starts on an existing database and of $STARTS starts on a new one;
#   * arclight's idle RSS (VmRSS, after ready + $IDLE_SECONDS s idle);
# and prints them with the targets of the foundation issue. Exits 0 whether targets are met or not
# (it is a measurement); exits non-zero only when it cannot measure (build failure, port taken...).
#
# Environment:
#   BUILD_DIR      CMake build directory, relative to the repository root (default: build). It must
#                  be configured with -DARCLIGHT_BUILD_BENCH=ON.
#   SKIP_BUILD=1   do not run `cmake --build` first.
#   DURATION       wrk duration of each measured run (default: 10s).
#   WARMUP         wrk warm-up run before each measured run, not reported (default: 2s; 0 = none).
#   CONNECTIONS    wrk connections (default: 64). wrk always runs with one thread (-t1).
#   ROUNDS         measured wrk runs per line; the run with the median req/s is reported (default: 3).
#   THREADS_LIST   arclight I/O thread counts to measure (default: "1 2").
#   API_PATH       the small JSON API route (default: /api/v1/system/info).
#   API_HEADER     one extra request header for API_PATH, e.g. "Authorization: Bearer ak_..." if the
#                  route needs a credential. Without it, when the route answers 401, the script
#                  creates the first admin (POST /api/v1/auth/setup) and an API key in its
#                  throwaway database, and uses that (needs curl).
#   STARTS         starts for each time-to-ready median (default: 5).
#   IDLE_SECONDS   idle time before reading VmRSS (default: 2).
#   BARE_PORT, ARCLIGHT_PORT   loopback ports (default: 18190, 18191).
#   ARCLIGHT_EXTRA_ENV         extra VAR=value words for every arclight start, e.g.
#                              "ARCLIGHT_LOG_LEVEL=warn".

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS_LIST=${THREADS_LIST:-"1 2"}
API_PATH=${API_PATH:-/api/v1/system/info}
API_HEADER=${API_HEADER:-}
API_NOTE=""
API_AUTO_TRIED=""
STARTS=${STARTS:-5}
ROUNDS=${ROUNDS:-3}
IDLE_SECONDS=${IDLE_SECONDS:-2}
BARE_PORT=${BARE_PORT:-18190}
ARCLIGHT_PORT=${ARCLIGHT_PORT:-18191}
read -r -a EXTRA_ENV <<<"${ARCLIGHT_EXTRA_ENV:-}"

# Targets of the foundation issue.
TARGET_RATIO_PCT=70
TARGET_READY_MS=300
TARGET_RSS_MB=40

ARCLIGHT_BIN="$BUILD_DIR/arclight"
BARE_BIN="$BUILD_DIR/bench/bench_bare_server"
WRK=${WRK:-wrk}

die() { echo "http_bench: $*" >&2; exit 2; }
source "$ROOT/bench/lib.sh"

command -v "$WRK" >/dev/null || die "wrk not found (apt-get install wrk)"

# ---------------------------------------------------------------------------------------------
# Build
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    [[ -f $BUILD_DIR/CMakeCache.txt ]] || die "$BUILD_DIR is not a configured build directory"
    if ! grep -q '^ARCLIGHT_BUILD_BENCH:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
        die "$BUILD_DIR has ARCLIGHT_BUILD_BENCH off: cmake -S $ROOT -B $BUILD_DIR -DARCLIGHT_BUILD_BENCH=ON"
    fi
    note "building arclight and bench_bare_server in $BUILD_DIR"
    cmake --build "$BUILD_DIR" --target arclight bench_bare_server >&2 || die "build failed"
fi
[[ -x $ARCLIGHT_BIN ]] || die "$ARCLIGHT_BIN is missing"
[[ -x $BARE_BIN ]] || die "$BARE_BIN is missing"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every server started here is stopped on exit, whatever happens.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arclight-bench.XXXXXX")
PIDS=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(( IDLE_SECONDS >= 0 )) || die "bad IDLE_SECONDS"

# The helpers used while polling fork nothing: they set variables instead of printing.

port_free "$BARE_PORT" || die "port $BARE_PORT is in use (set BARE_PORT)"
port_free "$ARCLIGHT_PORT" || die "port $ARCLIGHT_PORT is in use (set ARCLIGHT_PORT)"

# Starts arclight on SQLite database $2 (created if missing) with $1 I/O threads (0 = cores);
# sets SERVER_PID and SPAWN_US (just before the fork).
start_arclight() {
    local threads=$1 db=$2 log=$3
    now_us
    SPAWN_US=$NOW_US
    (
        cd "$WORK" || exit 1
        export ARCLIGHT_SERVER_PORT=$ARCLIGHT_PORT ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_ACCESS_LOG=false \
            ARCLIGHT_SERVER_THREADS=$threads ARCLIGHT_DATABASE_URL="sqlite:$db"
        [[ ${#EXTRA_ENV[@]} -eq 0 ]] || export "${EXTRA_ENV[@]}"
        exec "$ARCLIGHT_BIN" serve
    ) 2>>"$log" >>"$log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
}

# Polls /readyz every ~1 ms until it answers 200; prints the ms since SPAWN_US. Fails if the process
# dies or 30 s pass.
wait_ready_ms() {
    local port=$1 pid=$2 deadline
    now_us
    deadline=$((NOW_US + 30000000))
    while :; do
        http_status "$port" /readyz && [[ $HTTP_CODE == 200 ]] && break
        alive "$pid" || return 1
        now_us
        ((NOW_US < deadline)) || return 1
        sleep_ms 1
    done
    local t
    now_us
    t=$NOW_US
    printf '%d.%d\n' $(( (t - SPAWN_US) / 1000 )) $(( (t - SPAWN_US) % 1000 / 100 ))
}

wait_port_bare() {
    local i
    for ((i = 0; i < 5000; i++)); do
        http_status "$BARE_PORT" /healthz && [[ $HTTP_CODE == 200 ]] && return 0
        alive "$1" || return 1
        sleep_ms 1
    done
    return 1
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
kb_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------------------------
# wrk. Results are kept in RESULTS (one line per run: label|route|req/s|p50 ms|p99 ms|errors).
RESULTS=()

CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # all threads
# user+sys ticks of this shell's reaped children (wrk), from the `times` builtin: it must run in
# this shell, not in a $(...) subshell, which has children of its own.
children_ticks() {
    times >"$WORK/times"
    awk -v hz="$CLK_TCK" 'END { t = 0
        for (i = 1; i <= NF; i++) { split($i, ms, "m"); t += ms[1] * 60 + ms[2] } printf "%d", t * hz }' "$WORK/times"
}

# Runs wrk as a background child and waits for it: a trapped signal interrupts `wait` at once
# (not a foreground command), and the EXIT trap stops wrk like the servers.
run_wrk_child() {
    "$WRK" "$@" &
    local pid=$!
    PIDS+=("$pid")
    wait "$pid"
    stop_pid "$pid"
}

# One measured wrk run; sets WRK_LINE to "req/s|p50 ms|p99 ms|cpu|server CPU us per request|errors".
wrk_once() {
    local url=$1 pid=$2 out="$WORK/wrk.out"
    shift 2  # the rest: extra wrk arguments
    local t0 sys0 srv0 wrk0 t1 sys1 srv1 wrk1 cpu
    children_ticks >"$WORK/ticks"
    now_us
    t0=$NOW_US sys0=$(busy_ticks) srv0=$(proc_ticks "$pid") wrk0=$(<"$WORK/ticks")
    run_wrk_child -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1
    now_us
    t1=$NOW_US sys1=$(busy_ticks) srv1=$(proc_ticks "$pid")
    children_ticks >"$WORK/ticks"
    wrk1=$(<"$WORK/ticks")
    # CPU used during the run, in % of one core: server / wrk / everything else (the kernel's
    # softirq work for loopback, and any other process: a high "other" means a noisy machine).
    cpu=$(awk -v us=$((t1 - t0)) -v hz="$CLK_TCK" -v s=$((srv1 - srv0)) -v w=$((wrk1 - wrk0)) -v b=$((sys1 - sys0)) \
        'BEGIN { k = 100 / hz / (us / 1e6); o = b - s - w; if (o < 0) o = 0; printf "%.0f/%.0f/%.0f", s * k, w * k, o * k }')
    wrk_line "$out" "$pid" "$cpu" $((srv1 - srv0))
}

# run_wrk LABEL PORT PATH PID [HEADER]: a warm-up, then $ROUNDS measured runs; appends the run
# with the median req/s to RESULTS (label|route|req/s|p50|p99|cpu|us/req|errors).
# With PAIR_PORT and PAIR_PID set (the bare server, 1 thread), each round first runs wrk against
# the bare server's /healthz, then against PATH: RATIOS gets one req/s ratio per round, each taken
# from two runs seconds apart, so a machine that slows down or speeds up during the bench does not
# skew it. BARE_RUNS gets the bare server's req/s of each round.
run_wrk() {
    local label=$1 port=$2 path=$3 pid=$4 header=${5:-} url="http://127.0.0.1:$2$3" code i
    local extra=()
    [[ -z $header ]] || extra=(-H "$header")
    http_status "$port" "$path" "$header"
    code=$HTTP_CODE
    if [[ $code != 200 ]]; then
        local hint=""
        [[ $code == 401 || $code == 403 ]] && hint=" (set API_HEADER, e.g. 'Authorization: Bearer ...')"
        RESULTS+=("$label|$path|-|-|-|-|-|answers ${code:-nothing}, not 200$hint")
        return
    fi
    local pair_url=""
    [[ -z ${PAIR_PORT:-} ]] || pair_url="http://127.0.0.1:$PAIR_PORT/healthz"
    RATIOS=()
    BARE_RUNS=()
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        [[ -z $pair_url ]] || run_wrk_child -t1 -c"$CONNECTIONS" -d"$WARMUP" "$pair_url" >/dev/null 2>&1
        run_wrk_child -t1 -c"$CONNECTIONS" -d"$WARMUP" "${extra[@]}" "$url" >/dev/null 2>&1
    fi
    local runs=() bare_rps
    for ((i = 1; i <= ROUNDS; i++)); do
        if [[ -n $pair_url ]]; then
            note "wrk -t1 -c$CONNECTIONS -d$DURATION --latency $pair_url   (bare Beast, 1 thread, paired with run $i)"
            wrk_once "$pair_url" "$PAIR_PID"
            bare_rps=${WRK_LINE%%|*}
            BARE_RUNS+=("$bare_rps")
        fi
        note "wrk -t1 -c$CONNECTIONS -d$DURATION --latency $url   ($label, run $i/$ROUNDS)"
        wrk_once "$url" "$pid" "${extra[@]}"
        runs+=("$WRK_LINE")
        [[ -z $pair_url ]] || RATIOS+=("$(pct "${WRK_LINE%%|*}" "$bare_rps")")
        alive "$pid" || break
    done
    local picked spread=""
    picked=$(printf '%s\n' "${runs[@]}" | sort -t'|' -k1,1g | awk -v n="${#runs[@]}" 'NR == int((n + 1) / 2)')
    if ((${#runs[@]} > 1)); then
        spread=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f1 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
        spread="median of ${#runs[@]} runs (req/s $spread)"
        # errors of any run are reported
        local e
        e=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f6 | grep -v '^-$' | sort -u | paste -sd';' -)
        picked="${picked%|*}|${e:+$e; }$spread"
    fi
    RESULTS+=("$label|$path|$picked")
}

# When API_PATH answers 401 and no API_HEADER was given: best effort, create the first admin through
# the loopback-only setup route (the database is a throwaway one) and an API key, and print the
# header that carries it. Needs curl.
auto_api_header() {
    local base="http://127.0.0.1:$1" jar="$WORK/cookies" pw body csrf key
    command -v curl >/dev/null || return 1
    pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    body=$(curl -sS --max-time 10 -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$pw\"}" "$base/api/v1/auth/setup" 2>/dev/null) || return 1
    csrf=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' <<<"$body")
    [[ -n $csrf ]] || return 1
    body=$(curl -sS --max-time 10 -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
        -d '{"name":"bench","scopes":["*"]}' "$base/api/v1/auth/api-keys" 2>/dev/null) || return 1
    key=$(sed -n 's/.*"key":"\(ak_[^"]*\)".*/\1/p' <<<"$body")
    [[ -n $key ]] || return 1
    echo "Authorization: Bearer $key"
}

rps_of() {  # rps_of LABEL PATH [FIELD=3]: req/s (or another field) of a RESULTS line
    local r f
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r -a f <<<"$r"
        [[ ${f[0]} == "$1" && ${f[1]} == "$2" ]] && { echo "${f[${3:-3} - 1]}"; return; }
    done
    echo -
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# 1. The ceiling: bare Beast server, 1 then 2 I/O threads.
for t in 1 2; do
    "$BARE_BIN" "$BARE_PORT" "$t" >"$WORK/bare$t.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port_bare "$pid" || die "bench_bare_server did not start: $(cat "$WORK/bare$t.log")"
    run_wrk "bare Beast, $t thread$([[ $t == 1 ]] || echo s)" "$BARE_PORT" /healthz "$pid"
    stop_pid "$pid"
done
# The bare server (1 thread) stays up, idle, for the interleaved runs of step 3.
"$BARE_BIN" "$BARE_PORT" 1 >"$WORK/bare1-paired.log" 2>&1 &
BARE1_PID=$!
PIDS+=("$BARE1_PID")
wait_port_bare "$BARE1_PID" || die "bench_bare_server did not start: $(cat "$WORK/bare1-paired.log")"

# 2. Time-to-ready and idle RSS, default thread count (one per core).
note "time-to-ready: $STARTS starts on a new database, then $STARTS on an existing one"
READY_NEW=()
READY_EXISTING=()
crashes=()
for ((i = 0; i < STARTS; i++)); do
    start_arclight 0 "$WORK/new$i.db" "$WORK/ready-new.log"
    ms=$(wait_ready_ms "$ARCLIGHT_PORT" "$SERVER_PID") || die "arclight never became ready: $(tail -5 "$WORK/ready-new.log")"
    READY_NEW+=("$ms")
    stop_pid "$SERVER_PID"
done
start_arclight 0 "$WORK/existing.db" "$WORK/ready-existing.log"  # creates and migrates it
wait_ready_ms "$ARCLIGHT_PORT" "$SERVER_PID" >/dev/null || die "arclight never became ready: $(tail -5 "$WORK/ready-existing.log")"
stop_pid "$SERVER_PID"
for ((i = 0; i < STARTS; i++)); do
    start_arclight 0 "$WORK/existing.db" "$WORK/ready-existing.log"
    ms=$(wait_ready_ms "$ARCLIGHT_PORT" "$SERVER_PID") || die "arclight never became ready: $(tail -5 "$WORK/ready-existing.log")"
    READY_EXISTING+=("$ms")
    if ((i == STARTS - 1)); then
        note "idle RSS: ${IDLE_SECONDS}s idle after ready"
        sleep_ms $((IDLE_SECONDS * 1000))
        if alive "$SERVER_PID"; then
            IDLE_RSS_DEFAULT=$(rss_kb "$SERVER_PID")
        else
            IDLE_RSS_DEFAULT=
            crashes+=("default threads: died while idle")
        fi
    fi
    stop_pid "$SERVER_PID"
done
READY_NEW_MED=$(median "${READY_NEW[@]}")
READY_EXISTING_MED=$(median "${READY_EXISTING[@]}")

# 3. Throughput per I/O thread count.
declare -A IDLE_RSS LOADED_RSS PAIRED PAIRED_SPREAD PAIRED_BARE
for t in $THREADS_LIST; do
    log="$WORK/arclight-t$t.log"
    start_arclight "$t" "$WORK/existing.db" "$log"
    wait_ready_ms "$ARCLIGHT_PORT" "$SERVER_PID" >/dev/null || die "arclight (threads=$t) never became ready: $(tail -5 "$log")"
    sleep_ms $((IDLE_SECONDS * 1000))
    IDLE_RSS[$t]=$(rss_kb "$SERVER_PID")
    label="arclight, threads=$t"
    PAIR_PORT=$BARE_PORT PAIR_PID=$BARE1_PID run_wrk "$label" "$ARCLIGHT_PORT" /healthz "$SERVER_PID"
    if ((${#RATIOS[@]})); then
        PAIRED[$t]=$(median "${RATIOS[@]}")
        PAIRED_SPREAD[$t]=$(printf '%s\n' "${RATIOS[@]}" | sort -g | paste -sd' ' -)
        PAIRED_BARE[$t]=$(printf '%s\n' "${BARE_RUNS[@]}" | paste -sd' ' -)
    fi
    http_status "$ARCLIGHT_PORT" "$API_PATH"
    if [[ -z $API_HEADER && $HTTP_CODE == 401 && -z $API_AUTO_TRIED ]]; then
        API_AUTO_TRIED=1
        if API_HEADER=$(auto_api_header "$ARCLIGHT_PORT"); then
            note "$API_PATH needs a credential: created user 'bench' and an API key in the bench database"
            API_NOTE="$API_PATH is called with an API key (Authorization: Bearer ak_...), created by the script"
        else
            API_HEADER=
            API_NOTE="$API_PATH answers 401 and getting an API key through /api/v1/auth/setup + /api/v1/auth/api-keys failed: set API_HEADER"
        fi
    fi
    if alive "$SERVER_PID"; then
        run_wrk "$label" "$ARCLIGHT_PORT" "$API_PATH" "$SERVER_PID" "$API_HEADER"
    else
        RESULTS+=("$label|$API_PATH|-|-|-|-|-|not run: the server died")
    fi
    if alive "$SERVER_PID"; then
        LOADED_RSS[$t]=$(rss_kb "$SERVER_PID")
    else
        crashes+=("threads=$t: $(grep -m1 -iE 'abort|double free|terminate|segmentation|error' "$log" || tail -1 "$log")")
    fi
    stop_pid "$SERVER_PID"
done

# ---------------------------------------------------------------------------------------------
# Report
verdict() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN { if (v == "" || v == "-") { print "n/a"; exit }
    ok = (op == ">=") ? (v + 0 >= lim + 0) : (v + 0 <= lim + 0); print ok ? "PASS" : "FAIL" }'; }

cores=$(nproc)
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "Arclight HTTP bench -- $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores ($cpu), $(uname -sr)"
echo "wrk -t1 -c$CONNECTIONS -d$DURATION --latency (after a ${WARMUP} warm-up; median of $ROUNDS run(s)), loopback, keep-alive; wrk shares the cores"
echo "load average before the bench: $LOAD_BEFORE"
echo
fmt='%-22s %-20s %8s %7s %7s  %-14s %7s  %s\n'
# shellcheck disable=SC2059
{
    printf "$fmt" "server" "route" "req/s" "p50 ms" "p99 ms" "cpu% srv/wrk/+" "us/req" "errors"
    printf "$fmt" "------" "-----" "-----" "------" "------" "--------------" "------" "------"
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r l p rps p50 p99 cpu uspr errs <<<"$r"
        printf "$fmt" "$l" "$p" "$rps" "$p50" "$p99" "$cpu" "$uspr" "$errs"
    done
}
echo

bare2=$(rps_of "bare Beast, 2 threads" /healthz)
printf '%-58s %10s %10s  %s\n' "target" "measured" "limit" "verdict"
printf '%-58s %10s %10s  %s\n' "------" "--------" "-----" "-------"
best=-
for t in $THREADS_LIST; do
    ratio=${PAIRED[$t]:--}
    [[ $ratio != - ]] && { [[ $best == - ]] || awk -v a="$ratio" -v b="$best" 'BEGIN { exit !(a > b) }'; } && best=$ratio
    printf '%-58s %9s%% %9s%%  %s\n' "healthz req/s, arclight threads=$t / bare 1 thread" "$ratio" "$TARGET_RATIO_PCT" \
        "$(verdict "$ratio" "$TARGET_RATIO_PCT" ">=")"
done
printf '%-58s %9s%% %9s%%  %s\n' "healthz req/s, best arclight / bare 1 thread" "$best" "$TARGET_RATIO_PCT" \
    "$(verdict "$best" "$TARGET_RATIO_PCT" ">=")"
printf '%-58s %7s ms %7s ms  %s\n' "time-to-ready, existing SQLite db (median of $STARTS)" "$READY_EXISTING_MED" \
    "$TARGET_READY_MS" "$(verdict "$READY_EXISTING_MED" "$TARGET_READY_MS" "<=")"
printf '%-58s %7s ms %7s ms  %s\n' "time-to-ready, new SQLite db + migrations (median of $STARTS)" "$READY_NEW_MED" \
    "$TARGET_READY_MS" "$(verdict "$READY_NEW_MED" "$TARGET_READY_MS" "<=")"
rss_mb=-
[[ -n ${IDLE_RSS_DEFAULT:-} ]] && rss_mb=$(kb_to_mb "$IDLE_RSS_DEFAULT")
printf '%-58s %7s MB %7s MB  %s\n' "idle RSS, default threads ($cores I/O), ${IDLE_SECONDS}s after ready" "$rss_mb" \
    "$TARGET_RSS_MB" "$(verdict "$rss_mb" "$TARGET_RSS_MB" "<=")"
echo
echo "more:"
for t in $THREADS_LIST; do
    echo "  healthz ratio, arclight threads=$t: median of the per-round ratios ${PAIRED_SPREAD[$t]:--} (%), each arclight run" \
        "right after a bare 1-thread run (bare req/s: ${PAIRED_BARE[$t]:--})"
done
bare_us=$(rps_of "bare Beast, 1 thread" /healthz 7)
for t in $THREADS_LIST; do
    echo "  server CPU per /healthz request: bare 1 thread / arclight threads=$t =" \
        "$(pct "$bare_us" "$(rps_of "arclight, threads=$t" /healthz 7)")% (when the server, not wrk, is the bottleneck: about the req/s ratio of a quiet machine)"
done
for t in $THREADS_LIST; do
    h=$(rps_of "arclight, threads=$t" /healthz)
    echo "  arclight threads=$t: healthz = $(pct "$h" "$bare2")% of bare 2 threads;" \
        "idle RSS $( [[ -n ${IDLE_RSS[$t]:-} ]] && kb_to_mb "${IDLE_RSS[$t]}" || echo -) MB," \
        "RSS after the wrk runs $( [[ -n ${LOADED_RSS[$t]:-} ]] && kb_to_mb "${LOADED_RSS[$t]}" || echo -) MB"
done
[[ -z $API_NOTE ]] || echo "  $API_NOTE"
echo "  time-to-ready samples (ms): existing db: ${READY_EXISTING[*]}; new db: ${READY_NEW[*]}"
echo "  cpu% srv/wrk/+ = CPU time during the measured run in % of one core: server, wrk, everything else"
echo "  (kernel softirq work for loopback, other processes: if '+' is large the machine was busy, rerun)."
echo "  us/req = server CPU time (all its threads) per request."
echo "  (MB = 10^6 bytes; time-to-ready = fork of the process -> first 200 from GET /readyz, polled every ~1 ms)"
if ((${#crashes[@]})); then
    echo
    echo "WARNING: arclight died during the bench:"
    printf '  %s\n' "${crashes[@]}"
fi
exit 0
