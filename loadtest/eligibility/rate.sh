#!/usr/bin/env bash
# What a CheckEligibility through the gateway costs at the rates a pod actually serves: the CPU
# per call of the gateway and of the eligibility instance behind it (L1 hits), at fixed rates
# (open loop: `kaigo bench --rps`), for each setting of the servers' worker threads. A pod in
# the capacity plan serves a few thousand calls a second, well below the saturated rates of
# run.sh, and a call's cost there is not the saturated one (loadtest/README.md#cost-at-rate).
# The baseline, right before each run at the same rate: HAProxy 2.6 (one thread, no
# authentication) in front of the bare tonic echo server — a proxy hop and a server that do
# nothing — whose CPU per call is what the machine charges any HTTP/2 hop at that rate.
#   cargo build --release -p kaigo && bash loadtest/eligibility/rate.sh
# RATES (calls/s, in turn), SECS (a run), WORKERS ("default" = the runtime's own choice, one
# thread per core; a number sets server.worker_threads of both servers), PERSONS, ROUNDS.
# (WORKER_ENV=TOKIO_WORKER_THREADS sets the runtime's threads of a build older than that setting.)
# Needs PostgreSQL on 127.0.0.1:5432 (trust), redis-server, python3, haproxy (Debian). Everything it starts
# listens on 127.0.0.1 and is stopped at exit; its database and its Redis are dropped. Each
# measured run holds /tmp/loadtest.lock (LOCK=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo (or set KAIGO_BIN)" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "needs haproxy (apt-get install haproxy)" >&2; exit 1; }
PERSONS=${PERSONS:-20000}
RATES=${RATES:-"500 1000 2000 4000 8000"}
SECS=${SECS:-10}
WORKERS=${WORKERS:-"default 1"}
ROUNDS=${ROUNDS:-2}
CONC=${CONC:-64}            # calls in flight at most
CONNS=${CONNS:-4}           # HTTP/2 connections of the driver
SECRET="rate-internal-secret-of-at-least-32-bytes"
REDIS_PORT=${REDIS_PORT:-6397}
PY=loadtest/national/keys.py
HZ=$(getconf CLK_TCK)
. loadtest/lib.sh
lt_begin rate      # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
lt_lock_fd
lt_redis "$REDIS_PORT"
# As production runs them: info, JSON, an access-log line per call at the gateway.
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="$SECRET" KAIGO_TELEMETRY__LOG_LEVEL=${LOG_LEVEL:-info}
export KAIGO_REDIS__URL="redis://127.0.0.1:$REDIS_PORT" KAIGO_REDIS__KEY_PREFIX="rate:"
"$BIN" migrate eligibility >/dev/null
lt_dev_keys "$WORK/keys" 52299
"$BIN" echo-server --listen 127.0.0.1:52290 9>&- >/dev/null 2>&1 & PIDS+=($!)
PID_echo=$!
lt_haproxy 52271 127.0.0.1:52290

start() { # workers: the eligibility instance (L1 on) and a gateway in front of it
  local threads=()
  [ "$1" != default ] && threads=("${WORKER_ENV:-KAIGO_SERVER__WORKER_THREADS}=$1")
  env "${threads[@]}" KAIGO_SERVER__LISTEN=127.0.0.1:52261 KAIGO_TELEMETRY__METRICS_LISTEN=127.0.0.1:9761 \
    "$BIN" serve eligibility 9>&- >"$WORK/eligibility.log" 2>&1 & PIDS+=($!)
  PID_el=$!
  env "${threads[@]}" KAIGO_SERVER__LISTEN=127.0.0.1:52251 KAIGO_GATEWAY__LIMITS__RATE_PER_SEC=100000000 \
    KAIGO_GATEWAY__LIMITS__BURST=100000000 KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]" \
    KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY=http://127.0.0.1:52261 "$BIN" serve gateway 9>&- >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
  PID_gw=$!
  lt_up 127.0.0.1:52261
  lt_up 127.0.0.1:52251
}
hwm() { awk '/^VmHWM/ {printf "%d MiB", $2 / 1024}' "/proc/$1/status"; }
stop() {
  say "resident memory, high-water mark: gateway $(hwm "$PID_gw"), eligibility $(hwm "$PID_el")"
  kill "$PID_el" "$PID_gw"; wait "$PID_el" "$PID_gw" 2>/dev/null || true
}

# Persons over the national spread of insurers, imported through the gateway; the calls go to
# 10,000 of them (all stay in L1), each insurer's calls with that insurer's token.
start default
python3 $PY insurers "$PERSONS" >"$WORK/insurers.tsv"
while read -r insurer count; do
  export "TOKEN_$insurer=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer "$insurer" --ttl 4h)"
  "$BIN" gen insured --count "$count" --insurer "$insurer" --seed "$insurer" >"$WORK/extract.csv"
  token="TOKEN_$insurer"
  "$BIN" import insured "$WORK/extract.csv" --endpoint http://127.0.0.1:52251 --token "${!token}" --chunk 5000 >/dev/null
done <"$WORK/insurers.tsv"
# shellcheck disable=SC2016 # ${...} is for kaigo bench to fill, not the shell
python3 $PY check "$WORK/insurers.tsv" uniform 200000 5 '{"authorization": "Bearer ${TOKEN_INSURER}"}' 10000 >"$WORK/calls.jsonl"
echo '{"call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility", "insecure": true, "timeout": "20s"}' >"$WORK/check.json"
stop

bench() { # rate seconds [port]
  "$BIN" bench "$WORK/check.json" --endpoint "http://127.0.0.1:${3:-52251}" --data-lines "$WORK/calls.jsonl" --duration "$2s" \
    --rps "$1" --concurrency "$CONC" --connections "$CONNS" --format json --max-error-percent 0
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, ticks
RESULTS="$WORK/results.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for workers in $WORKERS; do
    start "$workers"
    bench 2000 3 >/dev/null    # L1 filled, connections open
    for rate in $RATES; do
      lock "round $round, workers $workers, $rate calls/s"
      h0=$(cpu "$PID_haproxy"); b0=$(cpu "$PID_echo")
      bench "$rate" "$SECS" 52271 >"$WORK/base.json"
      h1=$(cpu "$PID_haproxy"); b1=$(cpu "$PID_echo")
      g0=$(cpu "$PID_gw"); e0=$(cpu "$PID_el")
      bench "$rate" "$SECS" >"$WORK/run.json"
      g1=$(cpu "$PID_gw"); e1=$(cpu "$PID_el")
      unlock
      python3 - "$round" "$workers" "$rate" "$HZ" "$WORK/base.json" "$h0" "$h1" "$b0" "$b1" "$WORK/run.json" "$g0" "$g1" "$e0" "$e1" \
        <<'PY' | tee -a "$RESULTS" >&2
import json, sys
round_, workers, rate, hz = sys.argv[1:5]
def run(path, *ticks):
    r = json.load(open(path))
    ok = r["statusCodeDistribution"].get("OK", 0)
    p99 = next((d["latency"] for d in r["latencyDistribution"] if d["percentage"] == 99), 0)
    t = list(map(int, ticks))
    cost = [(t[i + 1] - t[i]) / int(hz) / max(ok, 1) * 1e6 for i in range(0, len(t), 2)]
    return r, ok, p99, cost
br, bok, _, (h, b) = run(*sys.argv[5:10])
r, ok, p99, (g, e) = run(*sys.argv[10:15])
print(f"{round_}\t{workers}\t{rate}\t{r['rps']:.0f}\t{p99 / 1e6:.2f}\t{g:.1f}\t{e:.1f}\t{g + e:.1f}"
      f"\t{h:.1f} + {b:.1f} = {h + b:.1f}\t{(g + e) / max(h + b, 0.1):.2f}\t{ok}/{r['count']}, {bok}/{br['count']}")
PY
    done
    stop
  done
done

echo
echo "## CPU per call at fixed rates: gateway + eligibility, L1 hits ($(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "| round | worker threads | rate asked | calls/s | p99 ms | gateway µs a call | eligibility µs a call | sum (CPU-s per million) | HAProxy + echo at the rate, µs | sum ÷ baseline | OK/calls (run, baseline) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f× | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' "$RESULTS"
