#!/usr/bin/env bash
# A/B of two arclight binaries on the webhook flows of workflow_bench.sh, interleaved closely so
# that the machine's drift (2x between minutes on shared machines) hits both alike:
#
#   bash bench/ab_bench.sh BASE_BINARY NEW_BINARY
#
# Both servers run at once on SQLite (their own throwaway databases), each with the same flows;
# for every flow and mode the script alternates short wrk runs in pairs (base first in one pair,
# new first in the next, since a run's aftermath falls on the run after it), PAIRS times, and
# prints each pair's ratio (new / base, req/s) and the median ratio. Only the server being
# measured is loaded; the other idles. Prints figures, exits 0 (non-zero only when it cannot
# measure).
#
# Environment: PAIRS (7), DURATION (3s per run), WARMUP (1s, before the pairs of a flow),
# CONNECTIONS (64), MODES ("none full"), FLOWS ("hello echo chain"), WRK (wrk); AB_PG=1: both
# servers on one throwaway PostgreSQL cluster (scripts/pg-cluster.sh, port AB_PG_PORT, 18399),
# each with its own database, instead of SQLite.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 BASE_BINARY NEW_BINARY" >&2; exit 2; }
BIN=("$1" "$2")
PAIRS=${PAIRS:-7}
DURATION=${DURATION:-3s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-64}
MODES=${MODES:-"none full"}
FLOWS=${FLOWS:-"hello echo chain"}
WRK=${WRK:-wrk}
AB_PG=${AB_PG:-0}
AB_PG_PORT=${AB_PG_PORT:-18399}
command -v "$WRK" >/dev/null || { echo "ab_bench: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
for b in "${BIN[@]}"; do [[ -x $b ]] || { echo "ab_bench: $b is not an executable" >&2; exit 2; }; done

WORK=$(mktemp -d /tmp/arclight-ab.XXXXXX)
chmod 755 "$WORK"  # the PostgreSQL cluster runs as the postgres user
PIDS=()
cleanup() {
    local p
    set +e  # stop everything, whatever fails
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [[ $AB_PG != 1 ]] || bash "$here/../scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PORT=()
KEY=()
DB_URL=("sqlite:$WORK/db-0/bench.db" "sqlite:$WORK/db-1/bench.db")
if [[ $AB_PG == 1 ]]; then
    pg_url=$(bash "$here/../scripts/pg-cluster.sh" start "$WORK/pg" "$AB_PG_PORT")
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    for i in 0 1; do "$pg_bin/psql" "$pg_url" -qAtc "CREATE DATABASE ab$i" >/dev/null; done
    DB_URL=("${pg_url%/*}/ab0" "${pg_url%/*}/ab1")
fi
start() {  # start I: server I (0 = base, 1 = new) on a free port, first admin, API key
    local i=$1 port log="$WORK/server-$1.log" n jar="$WORK/cookies-$1"
    port=$(free_port)
    mkdir -p "$WORK/db-$i"
    (
        export ARCLIGHT_SERVER_PORT=$port ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_ACCESS_LOG=false \
            ARCLIGHT_LOG_LEVEL=warn ARCLIGHT_DATABASE_URL="${DB_URL[$i]}"
        cd "$WORK/db-$i" && exec "${BIN[$i]}" serve
    ) >>"$log" 2>&1 &
    PIDS+=($!)
    for ((n = 0; n < 1000; n++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true) == 200 ]] && break
        sleep 0.02
    done
    [[ $n -lt 1000 ]] || { echo "ab_bench: ${BIN[$i]} did not become ready: $(tail -5 "$log")" >&2; exit 2; }
    KEY[$i]=$(admin_key "http://127.0.0.1:$port" "$jar" bench-password-ab-1)
    [[ -n ${KEY[$i]} ]] || { echo "ab_bench: no API key from ${BIN[$i]}" >&2; exit 2; }
    PORT[$i]=$port
}

def() { flow_def "$1" "$2" "$1-$2" "$1-$2"; }  # def FLOW MODE (the flows of bench/lib.sh)

printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
    "'{\"user\":\"ada\",\"items\":[1,2,3],\"nested\":{\"ok\":true,\"tag\":\"bench\"}}'" >"$WORK/echo.lua"

reqs() {  # reqs I FLOW MODE DURATION: req/s of one wrk run against server I
    local i=$1 flow=$2 mode=$3 d=$4 extra=()
    [[ $flow == echo ]] && extra=(-s "$WORK/echo.lua")
    "$WRK" -t1 -c"$CONNECTIONS" -d"$d" "${extra[@]}" "http://127.0.0.1:${PORT[$i]}/hooks/$flow-$mode" |
        awk '/^Requests\/sec:/ { print $2 }'
}

start 0
start 1
for i in 0 1; do
    for mode in $MODES; do
        for flow in $FLOWS; do
            code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${KEY[$i]}" -H 'Content-Type: application/json' \
                --data-binary "$(def "$flow" "$mode")" "http://127.0.0.1:${PORT[$i]}/api/v1/workflows")
            [[ $code == 201 ]] || { echo "ab_bench: creating $flow-$mode on ${BIN[$i]} answered $code" >&2; exit 2; }
        done
    done
done

echo "A/B on $([[ $AB_PG == 1 ]] && echo PostgreSQL || echo SQLite), interleaved: $PAIRS pairs of ${DURATION} wrk runs (-t1 -c$CONNECTIONS) per line, base first in even pairs, new first in odd ones"
echo "base: ${BIN[0]}"
echo "new:  ${BIN[1]}"
printf '%-12s %-10s %-10s %-7s  %s\n' "flow, mode" "base req/s" "new req/s" "ratio" "ratio per pair (new / base)"
for mode in $MODES; do
    for flow in $FLOWS; do
        reqs 0 "$flow" "$mode" "$WARMUP" >/dev/null
        reqs 1 "$flow" "$mode" "$WARMUP" >/dev/null
        a=() b=() r=()
        for ((p = 0; p < PAIRS; p++)); do
            # Alternate which goes first (ABBA): what a run leaves behind (the database's
            # checkpoints and vacuum, dirty pages being written back) falls on the run after it.
            if ((p % 2 == 0)); then
                x=$(reqs 0 "$flow" "$mode" "$DURATION")
                y=$(reqs 1 "$flow" "$mode" "$DURATION")
            else
                y=$(reqs 1 "$flow" "$mode" "$DURATION")
                x=$(reqs 0 "$flow" "$mode" "$DURATION")
            fi
            a+=("$x") b+=("$y")
            r+=("$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.3f", y / x }')")
        done
        med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
        printf '%-12s %-10.0f %-10.0f %-7s  %s\n' "$flow, $mode" "$(med "${a[@]}")" "$(med "${b[@]}")" "$(med "${r[@]}")" "${r[*]}"
    done
done
