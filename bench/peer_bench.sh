#!/usr/bin/env bash
# Arclight beside Node-RED, in one sitting, loaded by the peer's own bench.sh (issue 22):
#
#   bash bench/peer_bench.sh [ARCLIGHT_BINARY]        (default: build/arclight)
#
# Starts Node-RED 5 with the peer's three flows (../shared/peers/node-red: start.sh, installing it
# first with install.sh when missing) and one arclight server on a throwaway SQLite database with
# the same three flows as webhooks in every execution-data mode (/hooks/<mode>/hello, .../echo,
# .../chain; the flows of bench/lib.sh), plus, with PG=1, a second arclight server on a throwaway PostgreSQL cluster
# (scripts/pg-cluster.sh) with the `full` flows. Then, ROUNDS times, runs the peer's bench.sh
# against each of them in turn (the order reversed every other round, so that what one run leaves
# behind does not always fall on the same server), and prints req/s, p50 and p99 per round, the
# median of the rounds, and the ratios the issue asks for: Arclight `none` / Node-RED per route and
# round, and `full` / `none` per route. Prints figures and exits 0; non-zero only when it cannot
# measure (no binary, no Node-RED, a server that does not start, a route that breaks the contract).
#
# Environment: ROUNDS (3), DURATION (10s), WARMUP (3s), THREADS (2), CONNS (64), ROUTES
# ("hello echo chain"), MODES ("none errors full"), PG=1 (also full mode on PostgreSQL,
# port PG_PORT, 18398), PEER_DIR (the Node-RED script set, default ../shared/peers/node-red beside
# the repository).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
PIDS=()
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
die() { echo "peer_bench: $*" >&2; exit 2; }

BIN=${1:-$root/build/arclight}
[[ $BIN == /* ]] || BIN=$PWD/$BIN
ROUNDS=${ROUNDS:-3}
export DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s} THREADS=${THREADS:-2} CONNS=${CONNS:-64}
ROUTES=${ROUTES:-"hello echo chain"}
MODES=${MODES:-"none errors full"}
PG=${PG:-0}
PG_PORT=${PG_PORT:-18398}
PEER_DIR=${PEER_DIR:-$(cd "$root/.." && pwd)/shared/peers/node-red}
[[ -x $BIN ]] || die "$BIN is not an executable (build it: cmake --build build --target arclight)"
[[ -f $PEER_DIR/bench.sh ]] || die "no Node-RED script set at $PEER_DIR (set PEER_DIR)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"

WORK=$(mktemp -d /tmp/arclight-peer.XXXXXX)
chmod 755 "$WORK"  # the PostgreSQL cluster runs as the postgres user
NR_PORT=""
cleanup() {
    local p
    set +e
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [[ -z $NR_PORT ]] || bash "$PEER_DIR/stop.sh" "$NR_PORT" >/dev/null 2>&1
    [[ $PG != 1 ]] || bash "$root/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }


start_arclight() {  # start_arclight NAME DATABASE_URL MODES -> sets PORT_<NAME>, PID_<NAME>
    local name=$1 url=$2 modes=$3 port log="$WORK/$1.log" n key jar="$WORK/$1.cookies" flow mode code
    port=$(free_port)
    mkdir -p "$WORK/$name"
    (
        export ARCLIGHT_SERVER_PORT=$port ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_ACCESS_LOG=false \
            ARCLIGHT_LOG_LEVEL=warn ARCLIGHT_DATABASE_URL="$url"
        cd "$WORK/$name" && exec "$BIN" serve
    ) >>"$log" 2>&1 &
    PIDS+=($!)
    printf -v "PID_$name" %s "$!"
    for ((n = 0; n < 1000; n++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true) == 200 ]] && break
        sleep 0.02
    done
    [[ $n -lt 1000 ]] || die "arclight ($name) did not become ready: $(tail -5 "$log")"
    key=$(admin_key "http://127.0.0.1:$port" "$jar" bench-password-peer-1)
    [[ -n $key ]] || die "no API key from arclight ($name)"
    for mode in $modes; do
        for flow in hello echo chain; do
            code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
                --data-binary "$(flow_def "$flow" "$mode" "$flow-$mode" "$mode/$flow")" "http://127.0.0.1:$port/api/v1/workflows")
            [[ $code == 201 ]] || die "creating $flow-$mode on arclight ($name) answered $code"
        done
    done
    printf -v "PORT_$name" %s "$port"
}

[[ -x $PEER_DIR/install.sh ]] && bash "$PEER_DIR/install.sh" >"$WORK/node-red-install.log" 2>&1 ||
    die "installing Node-RED failed: $(tail -5 "$WORK/node-red-install.log")"
NR_PORT=$(free_port)
NR_PID=$(bash "$PEER_DIR/start.sh" "$NR_PORT" 2>"$WORK/node-red-start.log") || die "Node-RED did not start: $(tail -5 "$WORK/node-red-start.log")"
start_arclight sqlite "sqlite:$WORK/sqlite/bench.db" "$MODES"

# The servers measured: name, base URL, pid.
names=(node-red) urls=("http://127.0.0.1:$NR_PORT") pids=("$NR_PID")
for mode in $MODES; do
    names+=("$mode") urls+=("http://127.0.0.1:$PORT_sqlite/hooks/$mode") pids+=("$PID_sqlite")
done
if [[ $PG == 1 ]]; then
    pg_url=$(bash "$root/scripts/pg-cluster.sh" start "$WORK/pg" "$PG_PORT")
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    "$pg_bin/psql" "$pg_url" -qAtc "CREATE DATABASE peer" >/dev/null
    start_arclight pg "${pg_url%/*}/peer" full
    names+=(full-pg) urls+=("http://127.0.0.1:$PORT_pg/hooks/full") pids+=("$PID_pg")
fi

echo "Arclight beside Node-RED, one sitting: $ROUNDS rounds of the peer's bench.sh (wrk -t$THREADS -c$CONNS, $WARMUP warm-up + $DURATION per route)"
echo "arclight: $BIN ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')), SQLite$([[ $PG == 1 ]] && echo ', and full on PostgreSQL')"
echo "node-red: $(grep -m1 '"version"' "${PEERS_DIR:-/tmp/peers}/node-red/node_modules/node-red/package.json" 2>/dev/null | tr -dc '0-9.')"
echo "$(nproc) cores; load generator and servers share them"
echo
# results in files: $WORK/r/<round>.<server>.<route> = "rps p50 p99"
mkdir -p "$WORK/r"
printf '%-6s %-9s %-7s %10s %8s %8s\n' round server route "req/s" "p50 ms" "p99 ms"
for ((round = 1; round <= ROUNDS; round++)); do
    order=("${!names[@]}")
    if ((round % 2 == 0)); then
        rev=()
        for ((k = ${#order[@]} - 1; k >= 0; k--)); do rev+=("${order[k]}"); done
        order=("${rev[@]}")
    fi
    for k in "${order[@]}"; do
        out=$(ROUTES="$ROUTES" STRICT=1 PID="${pids[k]}" bash "$PEER_DIR/bench.sh" "${urls[k]}" 2>"$WORK/bench.err") ||
            die "bench.sh against ${names[k]} (${urls[k]}) failed: $(grep -m3 'MISMATCH\|failed' "$WORK/bench.err")"
        while read -r route rps p50 p99 _; do
            route=${route#/}
            echo "$rps $p50 $p99" >"$WORK/r/$round.${names[k]}.$route"
            printf '%-6s %-9s %-7s %10s %8s %8s\n' "$round" "${names[k]}" "$route" "$rps" "$p50" "$p99"
        done <<<"$out"
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { cat "$WORK/r/"*".$1.$2" 2>/dev/null | awk -v f="$3" '{ print $f }' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "Medians of the rounds"
printf '%-9s' server
for route in $ROUTES; do printf ' %22s' "$route req/s p50 p99"; done
echo
for name in "${names[@]}"; do
    printf '%-9s' "$name"
    for route in $ROUTES; do printf ' %9s %6s %5s' "$(field "$name" "$route" 1)" "$(field "$name" "$route" 2)" "$(field "$name" "$route" 3)"; done
    echo
done

echo
echo "Ratios (per round, then of the medians)"
for route in $ROUTES; do
    line="none / node-red, $route:"
    for ((round = 1; round <= ROUNDS; round++)); do
        a=$(awk '{ print $1 }' "$WORK/r/$round.none.$route" 2>/dev/null || echo -)
        b=$(awk '{ print $1 }' "$WORK/r/$round.node-red.$route" 2>/dev/null || echo -)
        line+=" $(ratio "$a" "$b")x"
    done
    echo "$line  (median $(ratio "$(field none "$route" 1)" "$(field node-red "$route" 1)")x)"
done
for other in full errors full-pg; do
    [[ " ${names[*]} " == *" $other "* ]] || continue
    for route in $ROUTES; do
        echo "$other / none, $route: $(awk -v a="$(field "$other" "$route" 1)" -v b="$(field none "$route" 1)" \
            'BEGIN { if (b + 0 == 0) print "-"; else printf "%.0f %%", 100 * a / b }')"
    done
done
