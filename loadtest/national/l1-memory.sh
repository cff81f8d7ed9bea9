#!/usr/bin/env bash
# Resident memory of an eligibility instance whose L1 is full (issue #20 item 6, the capacity
# plan's `M`; loadtest/README.md#l1-memory). PERSONS national-mix persons (default 1,000,000:
# about three times what a 256 MiB L1 holds) over the twelve insurers of loadtest/national, then
# for each L1 budget in BUDGETS (bytes; default 256 MiB, the default, and 64 MiB) a fresh
# `kaigo serve eligibility` with L1 on:
#   1. every person once by BatchCheckEligibility (1,000 a batch, 4 in flight): L1 fills and
#      evicts for room;
#   2. SECS seconds of CheckEligibility with uniform keys over every person (the worst case for
#      L1: most calls miss it, insert and evict);
# and VmRSS / VmHWM from /proc/<pid>/status before, after 1 and after 2, with the instance's L1
# evictions for room (kaigo_eligibility_cache_evictions_total{cause="size"}: L1 did fill).
# Reproduce with
#   cargo build --release -p kaigo && bash loadtest/national/l1-memory.sh
# Needs what loadtest/national/run.sh needs but unshare. Its database and Redis (own port) are
# dropped at exit. Each measurement holds /tmp/loadtest.lock (LOCK=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo (or set KAIGO_BIN)" >&2; exit 1; }
PERSONS=${PERSONS:-1000000}
SECS=${SECS:-60}
BUDGETS=${BUDGETS:-268435456 67108864}
CONC=${CONC:-32}
LOCK=${LOCK:-/tmp/loadtest.lock}
OUT=${OUT:-loadtest/results/l1-memory-$(date +%Y%m%dT%H%M%S)}
SECRET="l1-memory-internal-secret-of-at-least-32-bytes"
REDIS_PORT=${REDIS_PORT:-6396}
PY=loadtest/national/keys.py
CHECK=/kaigo.eligibility.v1.EligibilityService/CheckEligibility
BATCH=/kaigo.eligibility.v1.EligibilityService/BatchCheckEligibility
mkdir -p "$OUT"
. loadtest/lib.sh
lt_begin l1mem     # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
lt_lock_fd         # lock / unlock around each measurement
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$OUT/results.tsv" >&2; }
mem() { awk '/^VmRSS|^VmHWM/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$1/status"; }

lt_redis "$REDIS_PORT"
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="$SECRET"
export KAIGO_TELEMETRY__LOG_LEVEL=warn KAIGO_REDIS__URL="redis://127.0.0.1:$REDIS_PORT" KAIGO_REDIS__KEY_PREFIX="l1mem:"
"$BIN" migrate eligibility >/dev/null

# The import goes through a gateway to an instance of its own (L1 off), stopped afterwards.
lt_dev_keys "$WORK/keys" 51299
env KAIGO_SERVER__LISTEN=127.0.0.1:51262 KAIGO_ELIGIBILITY__L1_ENABLED=false "$BIN" serve eligibility \
  9>&- >"$WORK/import-eligibility.log" 2>&1 & PID_imp=$!; PIDS+=($!)
env KAIGO_SERVER__LISTEN=127.0.0.1:51251 KAIGO_GATEWAY__LIMITS__RATE_PER_SEC=100000000 \
  KAIGO_GATEWAY__LIMITS__BURST=100000000 KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]" \
  KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY=http://127.0.0.1:51262 "$BIN" serve gateway \
  9>&- >"$WORK/gateway.log" 2>&1 & PID_gw=$!; PIDS+=($!)
lt_up 127.0.0.1:51262; lt_up 127.0.0.1:51251

python3 $PY insurers "$PERSONS" >"$WORK/insurers.tsv"
while read -r insurer count; do
  for kind in CHECK BATCH; do
    mapfile -t headers < <("$BIN" token --role insurer --insurer "$insurer" --ttl 4h --caller-headers-for "${!kind}" --internal-secret "$SECRET")
    export "${kind}_CALLER_$insurer=${headers[0]#*: }" "${kind}_SIG_$insurer=${headers[1]#*: }"
    CALLER_HEADER=${headers[0]%%: *} SIG_HEADER=${headers[1]%%: *}
  done
  "$BIN" gen insured --count "$count" --insurer "$insurer" --seed "$insurer" >"$WORK/extract.csv"
  token=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer "$insurer" --ttl 4h)
  lock "import $insurer ($count persons)"
  "$BIN" import insured "$WORK/extract.csv" --endpoint http://127.0.0.1:51251 --token "$token" --chunk 5000 >/dev/null
  unlock
  rm -f "$WORK/extract.csv"
done <"$WORK/insurers.tsv"
kill "$PID_gw" "$PID_imp"; wait "$PID_gw" "$PID_imp" 2>/dev/null || true
say "imported $PERSONS persons"

direct() { printf '{"%s": "${%s_CALLER_INSURER}", "%s": "${%s_SIG_INSURER}"}' "$CALLER_HEADER" "$1" "$SIG_HEADER" "$1"; }
python3 $PY batch "$WORK/insurers.tsv" 1000 "$(direct BATCH)" >"$WORK/batches.jsonl"
python3 $PY check "$WORK/insurers.tsv" uniform 1000000 7 "$(direct CHECK)" >"$WORK/uniform.jsonl"
echo '{"call": "kaigo.eligibility.v1.EligibilityService.BatchCheckEligibility", "insecure": true, "timeout": "60s"}' >"$WORK/batch.json"
echo '{"call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility", "insecure": true, "timeout": "20s"}' >"$WORK/check.json"
evictions() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^kaigo_eligibility_cache_evictions_total/ && /cause="size"/ {s += $NF} END {printf "%d", s}'; }

for budget in $BUDGETS; do
  mib=$((budget / 1048576))
  env KAIGO_SERVER__LISTEN=127.0.0.1:51261 KAIGO_TELEMETRY__METRICS_LISTEN=127.0.0.1:9661 \
    KAIGO_ELIGIBILITY__L1_MAX_BYTES="$budget" "$BIN" serve eligibility 9>&- >"$WORK/l1-$mib.log" 2>&1 & pid=$!; PIDS+=($!)
  lt_up 127.0.0.1:51261
  sleep 2
  record "L1 $mib MiB: started" "$(mem $pid)" ""
  lock "L1 $mib MiB: batch over every person"
  t0=$(date +%s.%N)
  "$BIN" bench "$WORK/batch.json" --endpoint http://127.0.0.1:51261 --data-lines "$WORK/batches.jsonl" \
    --total "$(wc -l <"$WORK/batches.jsonl")" --concurrency 4 --connections 1 --format json --max-error-percent 0 >"$OUT/batch-$mib.json"
  t1=$(date +%s.%N)
  unlock
  record "L1 $mib MiB: after BatchCheckEligibility over $PERSONS persons ($(awk "BEGIN {printf \"%.0f\", $t1 - $t0}") s)" \
    "$(mem $pid)" "size evictions $(evictions 9661)"
  lock "L1 $mib MiB: uniform CheckEligibility"
  "$BIN" bench "$WORK/check.json" --endpoint http://127.0.0.1:51261 --data-lines "$WORK/uniform.jsonl" --duration "${SECS}s" \
    --concurrency "$CONC" --connections 2 --format json --max-error-percent 0 >"$OUT/uniform-$mib.json"
  unlock
  rps=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d calls, %.0f/s, OK %d" % (r["count"], r["rps"], r["statusCodeDistribution"].get("OK", 0)))' "$OUT/uniform-$mib.json")
  record "L1 $mib MiB: after ${SECS} s of uniform CheckEligibility ($rps)" "$(mem $pid)" "size evictions $(evictions 9661)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo
echo "## L1 memory: PERSONS=$PERSONS, SECS=$SECS ($(git rev-parse --short HEAD), $BIN)"
echo
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$OUT/results.tsv"
echo "results and logs: $OUT"
