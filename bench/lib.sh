# Helpers shared by the bench scripts (sourced, not run).
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

# wrk_line OUT PID CPU SERVER_TICKS: sets WRK_LINE to "req/s|p50 ms|p99 ms|CPU|server µs per
# request|errors" from wrk's --latency output in OUT (SERVER_TICKS: the server's CPU ticks during
# the run; CLK_TCK set by the caller). "-" fields and the output itself when wrk failed.
wrk_line() {
    local out=$1 pid=$2 cpu=$3 ticks=$4 rps p50 p99 errs uspr
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    # Server CPU time per request: unlike req/s, barely moved by other load on the machine.
    uspr=$(awk -v s="$ticks" -v hz="$CLK_TCK" '/ requests in / { if ($1 > 0) printf "%.1f", s * 1e6 / hz / $1 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    errs=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); printf "socket errors: %s; ", $0 }
                /Non-2xx or 3xx responses:/ { printf "non-2xx: %s; ", $NF }' "$out")
    errs=${errs%; }
    alive "$pid" || errs="SERVER DIED during the run${errs:+; $errs}"
    if [[ -z $rps || -z $p50 || -z $p99 ]]; then
        WRK_LINE="-|-|-|$cpu|-|wrk failed: $(tr '\n' ' ' <"$out")"
        return
    fi
    WRK_LINE="$rps|$(to_ms "$p50")|$(to_ms "$p99")|$cpu|${uspr:--}|${errs:--}"
}

# The three webhook flows of the workflow issue and of the Node-RED peer, as an arclight workflow:
#   hello  GET   one `respond` task                      -> "hello"
#   echo   POST  a `script` task (b.echoed = true) + respond -> the body with "echoed": true
#   chain  GET   ten chained `script` tasks + respond      -> {"n":10}
flow_def() {  # flow_def FLOW MODE NAME PATH: the definition, served at /hooks/PATH
    local flow=$1 mode=$2 name=$3 path=$4 tasks i method=GET
    case $flow in
    hello) tasks='{"id":"r","type":"respond","config":{"status":200,"body":"hello"}}' ;;
    echo)
        method=POST
        tasks='{"id":"add","type":"script","config":{"code":"local b = input.trigger.body; b.echoed = true; return b"}},{"id":"reply","type":"respond","depends_on":["add"],"config":{"status":200,"body":"{{ tasks.add.output }}"}}'
        ;;
    chain)
        tasks='{"id":"s0","type":"script","config":{"code":"return {n = 1}"}}'
        for ((i = 1; i < 10; i++)); do
            tasks+=",{\"id\":\"s$i\",\"type\":\"script\",\"depends_on\":[\"s$((i - 1))\"],\"config\":{\"code\":\"return {n = input.tasks.s$((i - 1)).output.n + 1}\"}}"
        done
        tasks+=',{"id":"reply","type":"respond","depends_on":["s9"],"config":{"status":200,"body":"{{ tasks.s9.output }}"}}'
        ;;
    esac
    echo "{\"name\":\"$name\",\"execution_data\":\"$mode\",\"active\":true,\"triggers\":[{\"type\":\"webhook\",\"method\":\"$method\",\"path\":\"$path\",\"respond\":\"sync\"}],\"tasks\":[$tasks]}"
}

# On a server with an empty database: creates the first admin (POST /api/v1/auth/setup, loopback
# only) and an API key with every scope; prints the key (nothing when either step failed).
admin_key() {  # admin_key BASE_URL COOKIE_JAR PASSWORD
    local base=$1 jar=$2 body csrf
    body=$(curl -sS -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"bench\",\"password\":\"$3\"}" "$base/api/v1/auth/setup")
    csrf=$(sed -n 's/.*"csrf_token":"\([^"]*\)".*/\1/p' <<<"$body")
    body=$(curl -sS -b "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
        -d '{"name":"bench","scopes":["*"]}' "$base/api/v1/auth/api-keys")
    sed -n 's/.*"key":"\(ak_[^"]*\)".*/\1/p' <<<"$body"
}
