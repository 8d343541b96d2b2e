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
#   ROUNDS         measured wrk runs per line; the run with the median req/s is reported (default: 1).
#   THREADS_LIST   arclight I/O thread counts to measure (default: "1 2").
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
STARTS=${STARTS:-5}
ROUNDS=${ROUNDS:-1}
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
note() { echo "-- $*" >&2; }

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

alive() {  # a zombie (exited, not reaped yet) is not alive
    local st
    [[ -r /proc/$1/stat ]] || return 1
    read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
    [[ $st != Z ]]
}

stop_pid() {  # SIGTERM, up to 10 s to exit, then SIGKILL
    local pid=$1 i
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 200; i++)); do
            alive "$pid" || break
            sleep_ms 50
        done
        if alive "$pid"; then
            note "pid $pid ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sleep without forking: a read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
sleep_ms() { read -r -t "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" -u "$SLEEP_FD" 2>/dev/null; true; }
(( IDLE_SECONDS >= 0 )) || die "bad IDLE_SECONDS"

now_us() { local t=$EPOCHREALTIME; echo $((10#${t/[.,]/})); }

# One HTTP/1.1 GET over bash's /dev/tcp; prints the status code (nothing if no connection).
http_status() {
    local port=$1 path=$2 fd line
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&"$fd"
    read -r -t 5 -u "$fd" line
    exec {fd}>&-
    line=${line%$'\r'}
    [[ $line == HTTP/1.?\ * ]] || return 1
    line=${line#* }
    echo "${line%% *}"
}

port_free() {
    local fd
    if { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
        exec {fd}>&-
        return 1
    fi
}
port_free "$BARE_PORT" || die "port $BARE_PORT is in use (set BARE_PORT)"
port_free "$ARCLIGHT_PORT" || die "port $ARCLIGHT_PORT is in use (set ARCLIGHT_PORT)"

# Starts arclight on SQLite database $2 (created if missing) with $1 I/O threads (0 = cores);
# sets SERVER_PID and SPAWN_US (just before the fork).
start_arclight() {
    local threads=$1 db=$2 log=$3
    SPAWN_US=$(now_us)
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
    local port=$1 pid=$2 deadline=$(( $(now_us) + 30000000 )) code
    while :; do
        code=$(http_status "$port" /readyz) && [[ $code == 200 ]] && break
        alive "$pid" || return 1
        (( $(now_us) < deadline )) || return 1
        sleep_ms 1
    done
    local t
    t=$(now_us)
    printf '%d.%d\n' $(( (t - SPAWN_US) / 1000 )) $(( (t - SPAWN_US) % 1000 / 100 ))
}

wait_port_bare() {
    local i
    for ((i = 0; i < 5000; i++)); do
        [[ $(http_status "$BARE_PORT" /healthz) == 200 ]] && return 0
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

# Converts a wrk latency (529.00us, 1.11ms, 1.20s, 1.00m) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

CLK_TCK=$(getconf CLK_TCK)
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # all threads
# user+sys ticks of this shell's reaped children (wrk), from the `times` builtin: it must run in
# this shell, not in a $(...) subshell, which has children of its own.
children_ticks() {
    times >"$WORK/times"
    awk -v hz="$CLK_TCK" 'END { t = 0
        for (i = 1; i <= NF; i++) { split($i, ms, "m"); t += ms[1] * 60 + ms[2] } printf "%d", t * hz }' "$WORK/times"
}

# One measured wrk run; prints "req/s|p50 ms|p99 ms|cpu|errors".
wrk_once() {
    local url=$1 pid=$2 out="$WORK/wrk.out"
    local t0 sys0 srv0 wrk0 t1 sys1 srv1 wrk1 cpu
    children_ticks >"$WORK/ticks"
    t0=$(now_us) sys0=$(busy_ticks) srv0=$(proc_ticks "$pid") wrk0=$(<"$WORK/ticks")
    "$WRK" -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$out" 2>&1
    t1=$(now_us) sys1=$(busy_ticks) srv1=$(proc_ticks "$pid")
    children_ticks >"$WORK/ticks"
    wrk1=$(<"$WORK/ticks")
    # CPU used during the run, in % of one core: server / wrk / everything else (the kernel's
    # softirq work for loopback, and any other process: a high "other" means a noisy machine).
    cpu=$(awk -v us=$((t1 - t0)) -v hz="$CLK_TCK" -v s=$((srv1 - srv0)) -v w=$((wrk1 - wrk0)) -v b=$((sys1 - sys0)) \
        'BEGIN { k = 100 / hz / (us / 1e6); o = b - s - w; if (o < 0) o = 0; printf "%.0f/%.0f/%.0f", s * k, w * k, o * k }')
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    errs=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); printf "socket errors: %s; ", $0 }
                /Non-2xx or 3xx responses:/ { printf "non-2xx: %s; ", $NF }' "$out")
    errs=${errs%; }
    alive "$pid" || errs="SERVER DIED during the run${errs:+; $errs}"
    if [[ -z $rps || -z $p50 || -z $p99 ]]; then
        echo "-|-|-|$cpu|wrk failed: $(tr '\n' ' ' <"$out")"
        return
    fi
    echo "$rps|$(to_ms "$p50")|$(to_ms "$p99")|$cpu|${errs:--}"
}

# run_wrk LABEL PORT PATH PID: a warm-up, then $ROUNDS measured runs; appends the run with the
# median req/s to RESULTS (label|route|req/s|p50|p99|cpu|errors).
run_wrk() {
    local label=$1 port=$2 path=$3 pid=$4 url="http://127.0.0.1:$2$3" code i
    code=$(http_status "$port" "$path")
    if [[ $code != 200 ]]; then
        RESULTS+=("$label|$path|-|-|-|-|answers ${code:-nothing}, not 200")
        return
    fi
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        "$WRK" -t1 -c"$CONNECTIONS" -d"$WARMUP" "$url" >/dev/null 2>&1
    fi
    local runs=()
    for ((i = 1; i <= ROUNDS; i++)); do
        note "wrk -t1 -c$CONNECTIONS -d$DURATION --latency $url   ($label, run $i/$ROUNDS)"
        runs+=("$(wrk_once "$url" "$pid")")
        alive "$pid" || break
    done
    local picked spread=""
    picked=$(printf '%s\n' "${runs[@]}" | sort -t'|' -k1,1g | awk -v n="${#runs[@]}" 'NR == int((n + 1) / 2)')
    if ((${#runs[@]} > 1)); then
        spread=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f1 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }')
        spread="median of ${#runs[@]} runs (req/s $spread)"
        # errors of any run are reported
        local e
        e=$(printf '%s\n' "${runs[@]}" | cut -d'|' -f5 | grep -v '^-$' | sort -u | paste -sd';' -)
        picked="${picked%|*}|${e:+$e; }$spread"
    fi
    RESULTS+=("$label|$path|$picked")
}

rps_of() {  # rps_of LABEL PATH
    local r
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r l p rps _ <<<"$r"
        [[ $l == "$1" && $p == "$2" ]] && { echo "$rps"; return; }
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
declare -A IDLE_RSS LOADED_RSS
for t in $THREADS_LIST; do
    log="$WORK/arclight-t$t.log"
    start_arclight "$t" "$WORK/existing.db" "$log"
    wait_ready_ms "$ARCLIGHT_PORT" "$SERVER_PID" >/dev/null || die "arclight (threads=$t) never became ready: $(tail -5 "$log")"
    sleep_ms $((IDLE_SECONDS * 1000))
    IDLE_RSS[$t]=$(rss_kb "$SERVER_PID")
    label="arclight, threads=$t"
    run_wrk "$label" "$ARCLIGHT_PORT" /healthz "$SERVER_PID"
    if alive "$SERVER_PID"; then
        run_wrk "$label" "$ARCLIGHT_PORT" /api/v1/system/info "$SERVER_PID"
    else
        RESULTS+=("$label|/api/v1/system/info|-|-|-|-|not run: the server died")
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
printf '%-24s %-22s %10s %9s %9s  %-15s %s\n' "server" "route" "req/s" "p50 ms" "p99 ms" "cpu% srv/wrk/+" "errors"
printf '%-24s %-22s %10s %9s %9s  %-15s %s\n' "------" "-----" "-----" "------" "------" "--------------" "------"
for r in "${RESULTS[@]}"; do
    IFS='|' read -r l p rps p50 p99 cpu errs <<<"$r"
    printf '%-24s %-22s %10s %9s %9s  %-15s %s\n' "$l" "$p" "$rps" "$p50" "$p99" "$cpu" "$errs"
done
echo

ceiling=$(rps_of "bare Beast, 1 thread" /healthz)
bare2=$(rps_of "bare Beast, 2 threads" /healthz)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.1f", 100 * a / b }'; }
printf '%-58s %10s %10s  %s\n' "target" "measured" "limit" "verdict"
printf '%-58s %10s %10s  %s\n' "------" "--------" "-----" "-------"
best=-
for t in $THREADS_LIST; do
    h=$(rps_of "arclight, threads=$t" /healthz)
    ratio=$(pct "$h" "$ceiling")
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
    h=$(rps_of "arclight, threads=$t" /healthz)
    echo "  arclight threads=$t: healthz = $(pct "$h" "$bare2")% of bare 2 threads;" \
        "idle RSS $( [[ -n ${IDLE_RSS[$t]:-} ]] && kb_to_mb "${IDLE_RSS[$t]}" || echo -) MB," \
        "RSS after the wrk runs $( [[ -n ${LOADED_RSS[$t]:-} ]] && kb_to_mb "${LOADED_RSS[$t]}" || echo -) MB"
done
echo "  time-to-ready samples (ms): existing db: ${READY_EXISTING[*]}; new db: ${READY_NEW[*]}"
echo "  cpu% srv/wrk/+ = CPU time during the measured run in % of one core: server, wrk, everything else"
echo "  (kernel softirq work for loopback, other processes: if '+' is large the machine was busy, rerun)."
echo "  (MB = 10^6 bytes; time-to-ready = fork of the process -> first 200 from GET /readyz, polled every ~1 ms)"
if ((${#crashes[@]})); then
    echo
    echo "WARNING: arclight died during the bench:"
    printf '  %s\n' "${crashes[@]}"
fi
exit 0
