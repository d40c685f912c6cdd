#!/usr/bin/env bash
# The benchmark harness: builds in release mode, runs the gateway over HTTPS with the full default pipeline on a
# throwaway store, seeds it, drives it with wrk on loopback, and measures the ceiling (same listener and TLS, no
# pipeline or store) and a peer (scim2-server) in the same run. Then an Entra-shaped initial sync and a scale run.
#
#   Benchmarks/run.sh                 # full run: 3 runs of 10 s per scenario (about 40 minutes)
#   Benchmarks/run.sh --smoke         # a few seconds per scenario, one run (CI)
#   Benchmarks/run.sh --runs 5 --seconds 15 --skip-peer --skip-scale
#   Benchmarks/run.sh --sync-only --runs 1   # only the initial syncs (embedded, fulcrum, queued)
#
# Prints a markdown report and writes it to Benchmarks/.results/<time>.md. Needs wrk (apt) and, for the peer, the
# conformance venv of ../shared/tools/conformance (setup.sh installs scim2-server there).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS=3; SECONDS_PER=10; SMOKE=0; PEER=1; SCALE=1; SYNC=1; SCENARIOS=1
SYNC_USERS=10000; SYNC_GROUPS=100; SYNC_MEMBERS=100; SCALE_LARGE=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; RUNS=1; SECONDS_PER=2; SYNC_USERS=300; SYNC_GROUPS=6; SYNC_MEMBERS=50; SCALE_LARGE=20000; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --skip-peer) PEER=0; shift ;;
    --skip-scale) SCALE=0; shift ;;
    --skip-sync) SYNC=0; shift ;;
    --sync-only) SCENARIOS=0; PEER=0; SCALE=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "benchmarks: wrk is missing (apt-get install wrk)" >&2; exit 2; }
VENV="${SCIM_CONFORMANCE_VENV:-$HOME/.cache/scim-conformance/venv}"
if [ "$PEER" = 1 ] && [ ! -x "$VENV/bin/scim2-server" ]; then
  bash "$ROOT/../shared/tools/conformance/setup.sh" >/dev/null 2>&1 || { echo "benchmarks: no scim2-server; skipping the peer" >&2; PEER=0; }
fi

echo "== building (release)" >&2
(cd "$ROOT" && swift build -c release --product scim-gateway >&2 && swift build -c release --product scim-gateway-bench >&2 \
  && swift build -c release --product fulcrum-emulator >&2)
BIN="$ROOT/.build/release/scim-gateway"
BENCH="$ROOT/.build/release/scim-gateway-bench"
EMULATOR="$ROOT/.build/release/fulcrum-emulator"
export BENCH_WRK="$HERE/wrk"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scim-bench.XXXXXX")"
PIDS=()
cleanup() { for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# A configuration for a run: the sample's full pipeline, quiet logs, the ceiling route on, rate limits lifted (a
# benchmark measures throughput, not the limiter; the stage still runs).
make_config() {  # DIR
  mkdir -p "$1"
  sed -e 's/level: info/level: warning/' \
      -e 's/^  maxBodyBytes: 1048576 .*/  maxBodyBytes: 1048576\n  benchmarkCeiling: true/' \
      -e 's/perToken: { requestsPerSecond: [0-9.]*, burst: [0-9]* }/perToken: { requestsPerSecond: 1000000, burst: 1000000 }/' \
      -e 's/perOrganization: { requestsPerSecond: [0-9.]*, burst: [0-9]* }/perOrganization: { requestsPerSecond: 1000000, burst: 1000000 }/' \
      -e 's/global: { requestsPerSecond: [0-9.]*, burst: [0-9]* }/global: { requestsPerSecond: 1000000, burst: 1000000 }/' \
      -e 's/perAddress: { requestsPerSecond: [0-9.]*, burst: [0-9]* }/perAddress: { requestsPerSecond: 1000000, burst: 1000000 }/' \
      "$ROOT/gateway.yaml" > "$1/gateway.yaml"
  grep -q "benchmarkCeiling: true" "$1/gateway.yaml" || { echo "benchmarks: could not enable the ceiling route" >&2; exit 2; }
}

GW_PID=""; GW_PORT=""; GW_TOKEN=""
start_gateway() {  # DIR
  "$BIN" serve --config "$1/gateway.yaml" --port 0 > "$1/stdout" 2> "$1/stderr" &
  GW_PID=$!; PIDS+=("$GW_PID")
  for _ in $(seq 1 600); do
    grep -q "^Tenant URL" "$1/stdout" 2>/dev/null && break
    kill -0 "$GW_PID" 2>/dev/null || { cat "$1/stderr" >&2; exit 1; }
    sleep 0.1
  done
  GW_PORT="$(sed -n 's/^scim-gateway listening on https:\/\/[^:]*:\([0-9]*\)$/\1/p' "$1/stdout")"
  local token; token="$(sed -n 's/^Secret Token[^:]*: //p' "$1/stdout")"
  [ -n "$token" ] && GW_TOKEN="$token"
  return 0
}
stop_gateway() { kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; }
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

RESULTS="$WORK/results.tsv"   # scenario  connections  run  rps  p50  p99  errors  requests
: > "$RESULTS"
wrk_run() {  # NAME CONNECTIONS URL SCRIPT [ENV…]
  local name="$1" connections="$2" url="$3" script="$4"; shift 4
  local threads=$(( connections < 2 ? 1 : 2 ))
  for run in $(seq 1 "$RUNS"); do
    local line
    line="$(env "$@" BENCH_RUN="$run$RANDOM" wrk -t"$threads" -c"$connections" -d"${SECONDS_PER}s" --timeout 10s -s "$HERE/wrk/$script" "$url" | grep '^RESULT' || true)"
    [ -n "$line" ] || { echo "benchmarks: wrk printed no result for $name" >&2; line="RESULT requests=0 seconds=0 rps=0 p50_ms=0 p99_ms=0 errors=1"; }
    local rps p50 p99 errors requests
    rps="$(sed 's/.* rps=\([0-9.]*\).*/\1/' <<< "$line")"; p50="$(sed 's/.* p50_ms=\([0-9.]*\).*/\1/' <<< "$line")"
    p99="$(sed 's/.* p99_ms=\([0-9.]*\).*/\1/' <<< "$line")"; errors="$(sed 's/.* errors=\([0-9]*\).*/\1/' <<< "$line")"
    requests="$(sed 's/.*requests=\([0-9]*\).*/\1/' <<< "$line")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$connections" "$run" "$rps" "$p50" "$p99" "$errors" "$requests" >> "$RESULTS"
    echo "  $name c=$connections run $run: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errors" >&2
  done
}

# ---- throughput and latency ---------------------------------------------------------------------------------
if [ "$SCENARIOS" = 1 ]; then
echo "== gateway scenarios" >&2
DIR="$WORK/gateway"; make_config "$DIR"
start_gateway "$DIR"            # first start: bootstrap, certificate, token
stop_gateway
"$BENCH" seed --store "$DIR/data/gateway.sqlite" --users 1000 --groups 10 --group-size 50
start_gateway "$DIR"
export BENCH_TOKEN="$GW_TOKEN" BENCH_USERS=1000 BENCH_GROUPS=10
BASE="https://localhost:$GW_PORT"
for c in 1 64; do
  wrk_run ceiling "$c" "$BASE" get.lua BENCH_PATH=/bench/ceiling
  wrk_run probe "$c" "$BASE" get.lua "BENCH_PATH=/scim/v2/Users?filter=userName+eq+%22d4b1c6a8-0000-4000-8000-000000000001%22"
  wrk_run get_user "$c" "$BASE" get_user.lua
  wrk_run filter_userName "$c" "$BASE" filter.lua BENCH_ATTRIBUTE=userName
  wrk_run filter_externalId "$c" "$BASE" filter.lua BENCH_ATTRIBUTE=externalId
  wrk_run list_100 "$c" "$BASE" get.lua "BENCH_PATH=/scim/v2/Users?startIndex=101&count=100"
  wrk_run post_user "$c" "$BASE" post_user.lua
  wrk_run patch_user "$c" "$BASE" patch_user.lua
  wrk_run patch_group "$c" "$BASE" patch_group.lua
done
GATEWAY_RSS="$(rss_kib "$GW_PID" VmHWM)"
stop_gateway
fi

# ---- the peer -----------------------------------------------------------------------------------------------
if [ "$PEER" = 1 ]; then
  echo "== peer: scim2-server" >&2
  PEER_PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$VENV/bin/scim2-server" --port "$PEER_PORT" --bearer-token peer-token > "$WORK/peer.log" 2>&1 &
  PEER_PID=$!; PIDS+=("$PEER_PID")
  IDS="$("$VENV/bin/python" "$HERE/peer_seed.py" "http://127.0.0.1:$PEER_PORT" peer-token 1000)"
  for c in 1 64; do
    for scenario in "get_user get_user.lua" "filter_userName filter.lua" "post_user post_user.lua" "patch_user patch_user.lua"; do
      set -- $scenario
      wrk_run "peer_$1" "$c" "http://127.0.0.1:$PEER_PORT" "$2" BENCH_TOKEN=peer-token BENCH_PREFIX= "BENCH_IDS=$IDS" BENCH_ATTRIBUTE=userName
    done
  done
  kill "$PEER_PID" 2>/dev/null || true; wait "$PEER_PID" 2>/dev/null || true
fi

# ---- initial sync -------------------------------------------------------------------------------------------
SYNC_LINES=""
if [ "$SYNC" = 1 ]; then
  echo "== initial sync" >&2
  for run in $(seq 1 "$RUNS"); do
    DIR="$WORK/sync$run"; make_config "$DIR"; GW_TOKEN=""
    start_gateway "$DIR"
    output="$("$BENCH" sync --port "$GW_PORT" --token "$GW_TOKEN" --certificate "$DIR/data/tls/dev-certificate.pem" \
      --users "$SYNC_USERS" --groups "$SYNC_GROUPS" --members "$SYNC_MEMBERS" --workers 8)" \
      || { echo "benchmarks: the initial sync failed:" >&2; echo "$output" >&2; exit 1; }
    line="$(tr '\n' ' ' <<< "$output")"
    peak="$(rss_kib "$GW_PID" VmHWM)"
    stop_gateway
    SYNC_LINES+="| $run | $line | $((peak / 1024)) MiB |"$'\n'
    echo "  sync run $run: $line peak RSS $((peak / 1024)) MiB" >&2
  done
fi

# ---- initial sync through the fulcrum backend ------------------------------------------------------------------
# The same sync with the gateway in front of fulcrum-emulator (its hourly limit raised, as the gateway's budget): the
# wall time next to the embedded directory's, and the Fulcrum calls it cost, by route, from /_emulator/stats.
FULCRUM_LINES=""
if [ "$SYNC" = 1 ]; then
  echo "== initial sync, fulcrum backend" >&2
  for run in $(seq 1 "$RUNS"); do
    DIR="$WORK/fulcrum$run"; mkdir -p "$DIR"
    "$EMULATOR" serve --port 0 --seed "$ROOT/Samples/fulcrum-seed.yaml" --calls-per-hour 100000000 > "$DIR/emulator.out" 2>&1 &
    EM_PID=$!; PIDS+=("$EM_PID")
    for _ in $(seq 1 600); do grep -q "^fulcrum-emulator listening" "$DIR/emulator.out" 2>/dev/null && break; sleep 0.1; done
    EM_PORT="$(sed -n 's/^fulcrum-emulator listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$DIR/emulator.out")"
    sed -e 's/level: info/level: warning/' \
        -e 's/\(perToken\|perOrganization\|global\|perAddress\): { requestsPerSecond: [0-9.]*, burst: [0-9]* }/\1: { requestsPerSecond: 1000000, burst: 1000000 }/' \
        -e "s|127.0.0.1:8080/api/v2|127.0.0.1:$EM_PORT/api/v2|" -e 's/callsPerHour: 5000 /callsPerHour: 100000000 /' \
        "$ROOT/Samples/gateway.fulcrum.yaml" > "$DIR/gateway.yaml"
    start_gateway "$DIR"
    output="$("$BENCH" sync --port "$GW_PORT" --token acme-owner-token --certificate "$DIR/data/tls/dev-certificate.pem" \
      --users "$SYNC_USERS" --groups "$SYNC_GROUPS" --members "$SYNC_MEMBERS" --workers 8)" \
      || { echo "benchmarks: the fulcrum sync failed:" >&2; echo "$output" >&2; exit 1; }
    line="$(tr '\n' ' ' <<< "$output")"
    stats="$(curl -s "http://127.0.0.1:$EM_PORT/_emulator/stats")"
    peak="$(rss_kib "$GW_PID" VmHWM)"
    stop_gateway
    kill "$EM_PID" 2>/dev/null || true; wait "$EM_PID" 2>/dev/null || true
    FULCRUM_LINES+="| $run | $line | $((peak / 1024)) MiB | \`$stats\` |"$'\n'
    echo "  fulcrum sync run $run: $line peak RSS $((peak / 1024)) MiB; Fulcrum calls: $stats" >&2
  done
fi

# ---- initial sync, queued delivery --------------------------------------------------------------------------
# delivery: queued. First at Fulcrum's real limit (5,000 calls an hour): how long the identity provider's side takes
# and what waits in the outbox. Then at a raised limit: how long the outbox takes to drain, its calls and the
# gateway's memory while it drains.
QUEUED_LINES=""
queued_stack() {  # DIR CALLS_PER_HOUR
  mkdir -p "$1"
  "$EMULATOR" serve --port 0 --seed "$ROOT/Samples/fulcrum-seed.yaml" --calls-per-hour "$2" > "$1/emulator.out" 2>&1 &
  EM_PID=$!; PIDS+=("$EM_PID")
  for _ in $(seq 1 600); do grep -q "^fulcrum-emulator listening" "$1/emulator.out" 2>/dev/null && break; sleep 0.1; done
  EM_PORT="$(sed -n 's/^fulcrum-emulator listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$1/emulator.out")"
  sed -e 's/level: info/level: warning/' \
      -e 's/\(perToken\|perOrganization\|global\|perAddress\): { requestsPerSecond: [0-9.]*, burst: [0-9]* }/\1: { requestsPerSecond: 1000000, burst: 1000000 }/' \
      -e "s|127.0.0.1:8080/api/v2|127.0.0.1:$EM_PORT/api/v2|" -e "s/callsPerHour: 5000 /delivery: queued\n    callsPerHour: $2 /" \
      "$ROOT/Samples/gateway.fulcrum.yaml" > "$1/gateway.yaml"
  start_gateway "$1"
}
queued_sync() {  # DIR: Entra's initial sync against the gateway queued_stack started; prints the result on one line
  local output
  output="$("$BENCH" sync --port "$GW_PORT" --token acme-owner-token --certificate "$1/data/tls/dev-certificate.pem" \
    --users "$SYNC_USERS" --groups "$SYNC_GROUPS" --members "$SYNC_MEMBERS" --workers 8)" \
    || { echo "benchmarks: the queued sync failed:" >&2; echo "$output" >&2; return 1; }
  tr '\n' ' ' <<< "$output"
}
outbox_size() { "$BIN" outbox list --config "$1/gateway.yaml" | awk 'NR > 1 && $0 !~ /outbox is empty/' | wc -l; }
if [ "$SYNC" = 1 ]; then
  echo "== initial sync, fulcrum backend, queued delivery" >&2
  DIR="$WORK/queued-real"; queued_stack "$DIR" 5000
  line="$(queued_sync "$DIR")"
  waiting="$(outbox_size "$DIR")"; stats="$(curl -s "http://127.0.0.1:$EM_PORT/_emulator/stats")"
  stop_gateway; kill "$EM_PID" 2>/dev/null || true; wait "$EM_PID" 2>/dev/null || true
  QUEUED_LINES+="| 5,000/h | $line | $waiting records waiting | \`$stats\` |"$'\n'
  echo "  queued sync at 5,000/h: $line; outbox $waiting; Fulcrum calls so far: $stats" >&2

  DIR="$WORK/queued-raised"; queued_stack "$DIR" 100000000
  line="$(queued_sync "$DIR")"
  start_rss="$(rss_kib "$GW_PID" VmRSS)"; drain_start="$(date +%s%N)"; max_rss="$start_rss"
  while [ "$(outbox_size "$DIR")" -gt 0 ]; do
    rss="$(rss_kib "$GW_PID" VmRSS)"; [ "$rss" -gt "$max_rss" ] && max_rss="$rss"
    sleep 0.5
  done
  drain_ms=$(( ($(date +%s%N) - drain_start) / 1000000 )); drain="$((drain_ms / 1000)).$(printf '%03d' $((drain_ms % 1000)))"
  stats="$(curl -s "http://127.0.0.1:$EM_PORT/_emulator/stats")"
  stop_gateway; kill "$EM_PID" 2>/dev/null || true; wait "$EM_PID" 2>/dev/null || true
  QUEUED_LINES+="| raised | $line | drained ${drain} s after the sync; RSS $((start_rss / 1024)) → max $((max_rss / 1024)) MiB | \`$stats\` |"$'\n'
  echo "  queued sync, raised limit: $line; drained ${drain} s after; RSS $((start_rss / 1024)) -> max $((max_rss / 1024)) MiB; Fulcrum calls: $stats" >&2
fi

# ---- scale --------------------------------------------------------------------------------------------------
SCALE_LINES=""
if [ "$SCALE" = 1 ]; then
  echo "== scale" >&2
  for size in 1000 "$SCALE_LARGE"; do
    DIR="$WORK/scale$size"; make_config "$DIR"; GW_TOKEN=""
    start_gateway "$DIR"; token="$GW_TOKEN"; stop_gateway
    "$BENCH" seed --store "$DIR/data/gateway.sqlite" --users "$size"
    start_gateway "$DIR"
    wrk_run "scale_$size" 64 "https://localhost:$GW_PORT" filter.lua BENCH_TOKEN="$token" BENCH_USERS="$size" BENCH_ATTRIBUTE=userName
    rss="$(rss_kib "$GW_PID" VmRSS)"
    stop_gateway
    bytes="$(du -cb "$DIR"/data/gateway.sqlite* | tail -1 | cut -f1)"
    SCALE_LINES+="$size $rss $bytes"$'\n'
  done
fi

# ---- report -------------------------------------------------------------------------------------------------
mkdir -p "$HERE/.results"
REPORT="$HERE/.results/$(date -u +%Y%m%dT%H%M%SZ).md"
python3 "$HERE/report.py" "$RESULTS" "$RUNS" "$SECONDS_PER" "${GATEWAY_RSS:-0}" "$SCALE_LINES" "$SYNC_LINES" "$FULCRUM_LINES" "$QUEUED_LINES" | tee "$REPORT"
echo "report: $REPORT" >&2
# Smoke runs fail on any error, so the harness cannot rot silently.
if [ "$SMOKE" = 1 ] && awk -F'\t' '$7 != 0 { bad = 1 } END { exit bad ? 0 : 1 }' "$RESULTS"; then
  echo "benchmarks: some requests failed in the smoke run" >&2
  exit 1
fi
