#!/usr/bin/env bash
# Scripts that run to their limit, and everything else the server answers meanwhile (issue 19,
# item 2): 64 wrk connections POST to a webhook whose caller waits for a run of one script task
# that spins until its CPU limit (workflow.script_cpu_ms, 1000 ms by default), while curl probes
# GET /healthz (50/s) and GET /api/v1/workflows (10/s, the UI's API) on keep-alive connections.
# Prints the probes' p50/p99/max latency with the flood and without it (idle), and what the
# flood's callers got (2xx, 503 with Retry-After from the full compute queue).
#
#   bash bench/script_load.sh [BINARY]          (default build/arclight)
#
# Environment: DURATION (20, seconds of flood), CONNECTIONS (64), ISOLATION (thread | process:
# workflow.script_isolation, when the binary has it), plus any ARCLIGHT_* override.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
BIN=$(realpath "${1:-$here/../build/arclight}")
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
for t in wrk curl python3; do command -v $t >/dev/null || { echo "script_load: $t is not installed" >&2; exit 2; }; done
[[ -x $BIN ]] || { echo "script_load: $BIN is not an executable" >&2; exit 2; }

WORK=$(mktemp -d /tmp/arclight-scripts.XXXXXX)
PIDS=()
cleanup() {
    local p
    set +e
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
    export ARCLIGHT_SERVER_PORT=$port ARCLIGHT_SERVER_HOST=127.0.0.1 ARCLIGHT_SERVER_ACCESS_LOG=false \
        ARCLIGHT_LOG_LEVEL=warn ARCLIGHT_DATABASE_URL="sqlite:$WORK/bench.db"
    [[ -z ${ISOLATION:-} ]] || export ARCLIGHT_WORKFLOW_SCRIPT_ISOLATION=$ISOLATION
    cd "$WORK" && exec "$BIN" serve
) >>"$WORK/server.log" 2>&1 &
PIDS+=($!)
for ((n = 0; n < 1000; n++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true) == 200 ]] && break
    sleep 0.02
done
[[ $n -lt 1000 ]] || { echo "script_load: the server did not become ready: $(tail -5 "$WORK/server.log")" >&2; exit 2; }
base=http://127.0.0.1:$port
key=$(admin_key "$base" "$WORK/jar" bench-password-scripts-1)
curl -sS -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$base/api/v1/workflows" -d '{
  "name": "spin", "active": true, "execution_data": "none",
  "triggers": [{"type": "webhook", "path": "spin", "respond": "sync"}],
  "tasks": [{"id": "s", "type": "script", "config": {"code": "while true do end"}}]}'
for ((n = 0; n < 500; n++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/hooks/spin" || true) != 404 ]] && break
    sleep 0.02
done

# probe NAME RATE COUNT URL [HEADER]: one keep-alive connection, COUNT requests at RATE/s; prints
# the latencies (ms) into $WORK/NAME.
probe() {
    local name=$1 rate=$2 count=$3 url=$4 header=${5:-X-Bench: 1} args=() i
    for ((i = 0; i < count; i++)); do args+=(-o /dev/null "$url"); done
    curl -s --rate "$rate/s" -H "$header" -w '%{http_code} %{time_total}\n' "${args[@]}" >"$WORK/$name"
}
report() {  # report LABEL FILE
    python3 - "$1" "$2" <<'PY'
import sys
label, path = sys.argv[1], sys.argv[2]
rows = [l.split() for l in open(path) if l.strip()]
bad = sum(1 for c, _ in rows if c != "200")
ms = sorted(float(t) * 1000 for _, t in rows)
if not ms:
    print(f"{label:34s} no answers"); sys.exit()
pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print(f"{label:34s} n={len(ms):5d}  p50 {pick(0.5):7.2f} ms  p99 {pick(0.99):7.2f} ms  max {ms[-1]:7.2f} ms  non-200: {bad}")
PY
}

cores=$(nproc)
echo "== script_load: $BIN, $cores cores, isolation ${ISOLATION:-thread}, ${DURATION}s, $CONNECTIONS connections"
hz=$((DURATION * 50)) api=$((DURATION * 10))
probe healthz-idle 50 "$hz" "$base/healthz" &
p1=$!
probe api-idle 10 "$api" "$base/api/v1/workflows" "Authorization: Bearer $key" &
p2=$!
wait "$p1" "$p2"
report "idle    GET /healthz" "$WORK/healthz-idle"
report "idle    GET /api/v1/workflows" "$WORK/api-idle"

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() codes = {} end
function response(status) codes[status] = (codes[status] or 0) + 1 end
function done()
    local all = {}
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end
    end
    local line = "status:"
    for k, v in pairs(all) do line = line .. " " .. k .. "=" .. v end
    print(line)
end
LUA
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s -s "$WORK/post.lua" "$base/hooks/spin" >"$WORK/wrk.out" 2>&1 &
wrk_pid=$!
sleep 0.5
probe healthz-load 50 "$hz" "$base/healthz" &
p1=$!
probe api-load 10 "$api" "$base/api/v1/workflows" "Authorization: Bearer $key" &
p2=$!
wait "$p1" "$p2"
wait "$wrk_pid" || true
report "flood   GET /healthz" "$WORK/healthz-load"
report "flood   GET /api/v1/workflows" "$WORK/api-load"
reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")
codes=$(sed -n 's/^status: *//p' "$WORK/wrk.out")
echo "flood   POST /hooks/spin (a script to its limit): ${reqs:-0} answered in ${DURATION}s, by status: ${codes:-none}"
echo "        (a run failed at its limit answers 500; 503 + Retry-After: the compute queue was full)"
grep -q "Socket errors" "$WORK/wrk.out" && grep "Socket errors" "$WORK/wrk.out" | sed 's/^/        /'
echo "server RSS after: $(awk '/VmHWM/ {print $2/1024 " MB peak"}' "/proc/${PIDS[0]}/status" 2>/dev/null || echo '?')"
