# Helpers shared by bench/http_bench.sh and bench/workflow_bench.sh (sourced, not run).
# The caller defines die, the PIDS array (processes stop_pid forgets once stopped) and its own
# cleanup trap.
# shellcheck shell=bash

note() { echo "-- $*" >&2; }

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

# Sleep without forking: a read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
sleep_ms() {
    local t
    printf -v t '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
    read -r -t "$t" -u "$SLEEP_FD" 2>/dev/null
    true
}

now_us() { local t=$EPOCHREALTIME; NOW_US=$((10#${t/[.,]/})); }  # sets NOW_US

# One HTTP/1.1 GET over bash's /dev/tcp, with an optional extra header line; sets HTTP_CODE to the
# status code (empty if no connection or no answer).
http_status() {
    local port=$1 path=$2 header=${3:-} fd line
    HTTP_CODE=
    [[ -z $header ]] || header+=$'\r\n'
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n' "$path" "$header" >&"$fd"
    read -r -t 5 -u "$fd" line
    exec {fd}>&-
    line=${line%$'\r'}
    [[ $line == HTTP/1.?\ * ]] || return 1
    line=${line#* }
    HTTP_CODE=${line%% *}
}

port_free() {
    local fd
    if { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
        exec {fd}>&-
        return 1
    fi
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.1f", 100 * a / b }'; }

# Converts a wrk latency (529.00us, 1.11ms, 1.20s, 1.00m) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
