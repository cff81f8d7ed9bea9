#!/usr/bin/env bash
# National scale (issue #20 items 1 and 4): PERSONS synthetic persons (default 5,000,000) over
# twelve insurers sized like the national spread, imported through the gateway, then
#   - PostgreSQL table and index sizes, the L2 warm-up time and Redis memory with L2 full;
#   - CheckEligibility with keys over every person, Zipf (s = 1) and uniform, direct and through
#     the gateway, with the L1 and L2 hit rates from the service's /metrics, as ratios to a bare
#     tonic echo server driven the same way in the same run;
#   - CPU-seconds of gateway + eligibility per million checks (L1 and L2 paths), and with 1, 2
#     and 3 eligibility replicas behind one gateway, from /proc/<pid>/stat; with RATE > 0 also
#     at that fixed rate (open loop) and with one replica at the rate each of 2 and 3 served.
# Reproduce with
#   cargo build --release -p kaigo && bash loadtest/national/run.sh       (PERSONS=200000 to try)
# Needs PostgreSQL on 127.0.0.1:5432 (trust), redis-server, python3, curl, util-linux (flock,
# unshare: the replica gateway resolves one name to 127.0.0.1-3 through a private /etc/hosts in
# its own mount namespace, which needs root). Everything it starts listens on 127.0.0.x and is
# stopped at exit; its database and its Redis (own port) are dropped. Every heavy measurement
# holds /tmp/loadtest.lock (LOCK=...), so it never overlaps another benchmark on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo (or set KAIGO_BIN)" >&2; exit 1; }
PERSONS=${PERSONS:-5000000}
SECS=${SECS:-20}            # seconds per measured run
CALLS=${CALLS:-1000000}     # lines per call file (a run that needs more cycles through it; reported)
CONC=${CONC:-32}            # calls in flight
CONNS=${CONNS:-2}           # HTTP/2 connections of the driver
HOT=${HOT:-10000}           # persons of the L1 path in the CPU measurements (all stay in L1)
RATE=${RATE:-0}             # > 0: the replica runs again at this fixed rate (open loop), see below
LOCK=${LOCK:-/tmp/loadtest.lock}
OUT=${OUT:-loadtest/results/national-$(date +%Y%m%dT%H%M%S)}
SECRET="national-internal-secret-of-at-least-32-bytes"
REDIS_PORT=${REDIS_PORT:-6395}
PY=loadtest/national/keys.py
CHECK=/kaigo.eligibility.v1.EligibilityService/CheckEligibility
BATCH=/kaigo.eligibility.v1.EligibilityService/BatchCheckEligibility
HZ=$(getconf CLK_TCK)
mkdir -p "$OUT"
. loadtest/lib.sh
lt_begin national  # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
# The lock is held on descriptor 9 around each measurement; servers are started without it.
lt_lock_fd
calc() { awk "BEGIN {v = $1; printf (v == int(v) || v > 1000) ? \"%d\" : \"%.1f\", v}"; }
sum() { awk "BEGIN {printf \"%.3f\", $1}"; }
# Every figure lands in results.tsv: name, value, unit.
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$OUT/results.tsv" >&2; }

lt_redis "$REDIS_PORT"; PID_redis=$LT_REDIS_PID
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="$SECRET" KAIGO_TELEMETRY__LOG_LEVEL=warn
export KAIGO_REDIS__URL="redis://127.0.0.1:$REDIS_PORT" KAIGO_REDIS__KEY_PREFIX="national:"
"$BIN" migrate eligibility >/dev/null

serve() { # name listen metrics-port extra-env...
  local name=$1 listen=$2 metrics=$3; shift 3
  env KAIGO_SERVER__LISTEN="$listen" KAIGO_TELEMETRY__METRICS_LISTEN="127.0.0.1:$metrics" "$@" \
    "$BIN" serve eligibility 9>&- >"$WORK/$name.log" 2>&1 & PIDS+=($!)
  eval "PID_$name=$!"
}
serve l1 127.0.0.1:51161 9561                                   # L1 (256 MiB default), L2, database
serve l2 127.0.0.1:51162 9562 KAIGO_ELIGIBILITY__L1_ENABLED=false # L2, database: the L2 path
for i in 1 2 3; do serve "r$i" "127.0.0.$i:51171" "957$i"; done   # replicas behind one gateway
"$BIN" echo-server --listen 127.0.0.1:51190 9>&- >/dev/null 2>&1 & PIDS+=($!)

lt_dev_keys "$WORK/keys" 51199
# A gateway as run.sh runs it (JWT on, access log at info, the per-caller limit out of the way).
gateway() { # name port upstream-url [hosts-file]
  local name=$1 port=$2 upstream=$3 hosts=${4:-}
  local run=(env KAIGO_SERVER__LISTEN="127.0.0.1:$port" KAIGO_GATEWAY__LIMITS__RATE_PER_SEC=100000000
    KAIGO_GATEWAY__LIMITS__BURST=100000000 KAIGO_TELEMETRY__LOG_LEVEL=info
    KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]"
    KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY="$upstream" "$BIN" serve gateway)
  if [ -n "$hosts" ]; then
    # unshare execs (no fork) and sh execs the gateway: $! is the gateway's pid.
    unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "${run[@]}" 9>&- >"$WORK/$name.log" 2>&1 &
  else
    "${run[@]}" 9>&- >"$WORK/$name.log" 2>&1 &
  fi
  PIDS+=($!)
  eval "PID_$name=$!"
  lt_up "127.0.0.1:$port" || { tail -5 "$WORK/$name.log" >&2; exit 1; }
}
gateway g1 51151 http://127.0.0.1:51161
gateway g2 51152 http://127.0.0.1:51162
for port in 51161 51162 51171; do lt_up "127.0.0.1:$port"; done

# Insurers, and per insurer a token (through the gateway) and signed caller headers (direct).
python3 $PY insurers "$PERSONS" >"$WORK/insurers.tsv"
while read -r insurer count; do
  export "TOKEN_$insurer=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer "$insurer" --ttl 4h)"
  for kind in CHECK BATCH; do
    path_var=$kind
    mapfile -t headers < <("$BIN" token --role insurer --insurer "$insurer" --ttl 4h --caller-headers-for "${!path_var}" --internal-secret "$SECRET")
    export "${kind}_CALLER_$insurer=${headers[0]#*: }" "${kind}_SIG_$insurer=${headers[1]#*: }"
    CALLER_HEADER=${headers[0]%%: *} SIG_HEADER=${headers[1]%%: *}
  done
done <"$WORK/insurers.tsv"
BEARER='{"authorization": "Bearer ${TOKEN_INSURER}"}'
direct() { printf '{"%s": "${%s_CALLER_INSURER}", "%s": "${%s_SIG_INSURER}"}' "$CALLER_HEADER" "$1" "$SIG_HEADER" "$1"; }
say "persons $PERSONS over $(wc -l <"$WORK/insurers.tsv") insurers: $(tr '\t\n' ': ' <"$WORK/insurers.tsv")"

# --- Import: kaigo gen insured (streams) to a file per insurer, then kaigo import insured. ---
gen_s=0; import_s=0
while read -r insurer count; do
  t0=$(date +%s.%N)
  "$BIN" gen insured --count "$count" --insurer "$insurer" --seed "${insurer}" >"$WORK/extract.csv"
  t1=$(date +%s.%N)
  lock "import $insurer"
  t1i=$(date +%s.%N)
  tok="TOKEN_$insurer"
  "$BIN" import insured "$WORK/extract.csv" --endpoint http://127.0.0.1:51151 --token "${!tok}" --chunk 5000 \
    | tee -a "$OUT/import.txt" >&2
  t2=$(date +%s.%N)
  unlock
  rm -f "$WORK/extract.csv"
  gen_s=$(sum "$gen_s + $t1 - $t0"); import_s=$(sum "$import_s + $t2 - $t1i")
done <"$WORK/insurers.tsv"
record "gen insured" "$(calc "$PERSONS / $gen_s")" "rows/s ($gen_s s)"
record "import wall time" "$import_s" "s"
record "import rate" "$(calc "$PERSONS / $import_s")" "rows/s"

pq() { psql -q -h 127.0.0.1 -U postgres -d "$DB" "$@"; }
pq -c "VACUUM ANALYZE" >/dev/null
sizes() {
  pq -AF$'\t' -c "SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), pg_indexes_size(c.oid),
      pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'eligibility' AND c.relkind IN ('r', 'p') AND pg_total_relation_size(c.oid) > 65536
    ORDER BY pg_total_relation_size(c.oid) DESC" | sed '$d'
}
sizes >"$OUT/sizes-after-import.tsv"
cat "$OUT/sizes-after-import.tsv" >&2
record "database size" "$(pq -Atc "SELECT pg_database_size('$DB')")" "bytes"

# --- L2 warm-up: every person once, in batches of 1,000, on the instance without L1. ---
cat >"$WORK/batch.json" <<'JSON'
{"call": "kaigo.eligibility.v1.EligibilityService.BatchCheckEligibility", "insecure": true, "timeout": "60s"}
JSON
cat >"$WORK/check.json" <<'JSON'
{"call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility", "insecure": true, "timeout": "20s"}
JSON
python3 $PY batch "$WORK/insurers.tsv" 1000 "$(direct BATCH)" >"$WORK/warm.jsonl"
redis() { redis-cli -p "$REDIS_PORT" "$@"; }
mem_before=$(redis INFO memory | awk -F: '/^used_memory:/ {print $2+0}')
# In parts of 1,000 batches: one kaigo bench run stops at 10 minutes.
split -l 1000 -d "$WORK/warm.jsonl" "$WORK/warm-part-"
warm_s=0
for part in "$WORK"/warm-part-*; do
  lock "L2 warm-up, $(basename "$part")"
  t0=$(date +%s.%N)
  "$BIN" bench "$WORK/batch.json" --endpoint http://127.0.0.1:51162 --data-lines "$part" --total "$(wc -l <"$part")" \
    --concurrency 4 --connections 1 --format json --max-error-percent 0 >>"$OUT/warm.json"
  t1=$(date +%s.%N)
  unlock
  warm_s=$(sum "$warm_s + $t1 - $t0")
done
mem_after=$(redis INFO memory | awk -F: '/^used_memory:/ {print $2+0}')
record "L2 warm-up" "$warm_s" "s ($(calc "$PERSONS / $warm_s") persons/s)"
record "Redis used_memory, L2 full" "$mem_after" "bytes (before warm-up $mem_before)"
record "Redis bytes per person" "$(calc "($mem_after - $mem_before) / $PERSONS")" "bytes"
record "Redis keys (hash buckets)" "$(redis DBSIZE)" "keys"

# --- Call files: keys over every person (zipf, uniform), and a hot set for the L1 path. ---
# Each run draws its own keys (its own seed): a run never replays the keys of the one before.
for dist in zipf uniform; do
  for seed in 1 2; do
    python3 $PY check "$WORK/insurers.tsv" $dist "$CALLS" $seed "$(direct CHECK)" >"$WORK/$dist-$seed-direct.jsonl"
  done
  python3 $PY check "$WORK/insurers.tsv" $dist "$CALLS" 3 "$BEARER" >"$WORK/$dist-3-bearer.jsonl"
done
python3 $PY check "$WORK/insurers.tsv" uniform "$CALLS" 4 "$BEARER" >"$WORK/uniform-4-bearer.jsonl"
python3 $PY check "$WORK/insurers.tsv" uniform "$CALLS" 5 "$BEARER" "$HOT" >"$WORK/hot-bearer.jsonl"

lookups() { # metrics-port[,port...] -> "l1 l2 database", summed
  local port
  for port in ${1//,/ }; do curl -s "http://127.0.0.1:$port/metrics"; done | awk '/^kaigo_eligibility_cache_lookups_total/ {
      if ($0 ~ /tier="l1"/) a += $NF; else if ($0 ~ /tier="l2"/) b += $NF; else if ($0 ~ /tier="database"/) c += $NF }
    END {printf "%d %d %d\n", a, b, c}'
}
cpu() { local p; for p in "$@"; do awk '{printf "%d ", $14 + $15}' "/proc/$p/stat"; done; }  # ticks per pid
# One measured run: label endpoint file metrics-ports pids... Prints a table row and records
# calls/s, hit rates, and CPU-seconds per million OK calls of the pids named: their sum, then
# each (in the order named).
RESULTS="$OUT/runs.tsv"
run() {
  local label=$1 endpoint=$2 file=$3 metrics=${4:-} ; shift 4 || shift $#
  local pids=("$@") before after c0 c1
  [ -n "$metrics" ] && before=$(lookups "$metrics")
  lock "$label"
  c0=""; c1=""
  [ ${#pids[@]} -gt 0 ] && c0=$(cpu "${pids[@]}")
  # RPS set: calls start on that fixed schedule (open loop), CONC bounds those in flight.
  "$BIN" bench "$WORK/check.json" --endpoint "$endpoint" --data-lines "$file" --duration "${SECS}s" ${RPS:+--rps "$RPS"} \
    --concurrency "$CONC" --connections "$CONNS" --format json --max-error-percent 0 >"$WORK/run.json" 2>"$WORK/run.err" \
    || { cat "$WORK/run.err" "$WORK/run.json" >&2; exit 1; }
  [ ${#pids[@]} -gt 0 ] && c1=$(cpu "${pids[@]}")
  unlock
  [ -n "$metrics" ] && after=$(lookups "$metrics")
  python3 - "$label" "$WORK/run.json" "$CALLS" "${before:-}" "${after:-}" "${c0:-}" "${c1:-}" "$HZ" <<'PY' | tee -a "$RESULTS" >&2
import json, sys
label, path, lines, before, after, c0, c1, hz = sys.argv[1:9]
r = json.load(open(path))
ok = r["statusCodeDistribution"].get("OK", 0)
p99 = next((d["latency"] for d in r["latencyDistribution"] if d["percentage"] == 99), 0)
hits = "-\t-\t-"
if before and after:
    d = [int(a) - int(b) for a, b in zip(after.split(), before.split())]
    n = sum(d) or 1
    hits = "%.1f%%\t%.1f%%\t%.1f%%" % (100 * d[0] / n, 100 * d[1] / n, 100 * d[2] / n)
cpu = "-"
if c0 and c1:
    each = [(int(b) - int(a)) / int(hz) / max(ok, 1) * 1e6 for a, b in zip(c0.split(), c1.split())]
    cpu = "%.1f" % sum(each) + ("" if len(each) == 1 else " (" + " + ".join("%.1f" % e for e in each) + ")")
cycled = " (cycled)" if r["count"] > int(lines) else ""
print(f"{label}\t{r['rps']:.0f}\t{r['average'] / 1e6:.2f}\t{p99 / 1e6:.2f}\t{hits}\t{cpu}\t{ok}/{r['count']}{cycled}")
PY
}
printf 'path\tcalls/s\tmean ms\tp99 ms\tL1 share\tL2 share\tdatabase share\tCPU-s per million\tOK/calls\n' >"$RESULTS"

# --- CheckEligibility over every person. ---
run "echo (baseline)" http://127.0.0.1:51190 "$WORK/zipf-1-direct.jsonl" ""
run "direct, L1 off (L2 path), uniform" http://127.0.0.1:51162 "$WORK/uniform-1-direct.jsonl" 9562
run "direct, L1 off (L2 path), zipf" http://127.0.0.1:51162 "$WORK/zipf-1-direct.jsonl" 9562
for dist in zipf uniform; do
  # One run to bring L1 to its steady state for this distribution, then the measured one.
  run "direct, L1 on, $dist (warming L1)" http://127.0.0.1:51161 "$WORK/$dist-1-direct.jsonl" 9561
  run "direct, L1 on, $dist" http://127.0.0.1:51161 "$WORK/$dist-2-direct.jsonl" 9561
  run "gateway, L1 on, $dist" http://127.0.0.1:51151 "$WORK/$dist-3-bearer.jsonl" 9561 "$PID_g1" "$PID_l1"
done
record "L1 entries' resident memory (l1 instance)" "$(awk '/VmRSS/ {print $2}' /proc/$PID_l1/status)" "kB"

# --- CPU-seconds of gateway + eligibility per million checks. ---
run "cpu: gateway + eligibility, L1 path (hot $HOT persons, warming)" http://127.0.0.1:51151 "$WORK/hot-bearer.jsonl" 9561 "$PID_g1" "$PID_l1"
run "cpu: gateway + eligibility, L1 path (hot $HOT persons)" http://127.0.0.1:51151 "$WORK/hot-bearer.jsonl" 9561 "$PID_g1" "$PID_l1"
run "cpu: gateway + eligibility + Redis, L2 path (uniform, L1 off)" http://127.0.0.1:51152 "$WORK/uniform-4-bearer.jsonl" 9562 "$PID_g2" "$PID_l2" "$PID_redis"
for n in 1 2 3; do
  { echo "127.0.0.1 localhost"; for i in $(seq 1 "$n"); do echo "127.0.0.$i national-eligibility"; done; } >"$WORK/hosts-$n"
  gateway "gr$n" 51153 http://national-eligibility:51171 "$WORK/hosts-$n"
  gpid_var="PID_gr$n"; gpid=${!gpid_var}
  rpids=(); ports=(); for i in $(seq 1 "$n"); do v="PID_r$i"; rpids+=("${!v}"); ports+=("957$i"); done
  ports=$(IFS=,; echo "${ports[*]}")
  run "cpu: gateway + $n replica(s), L1 path (warming)" http://127.0.0.1:51153 "$WORK/hot-bearer.jsonl" "$ports" "$gpid" "${rpids[@]}"
  run "cpu: gateway + $n replica(s), L1 path" http://127.0.0.1:51153 "$WORK/hot-bearer.jsonl" "$ports" "$gpid" "${rpids[@]}"
  kill "$gpid"; wait "$gpid" 2>/dev/null || true
done
# The same at a fixed rate (RATE calls/s, open loop), so that adding replicas changes nothing but
# the replica count: the gateway with 1, 2 and 3 replicas at RATE, then, for 2 and 3, the gateway
# with one replica at RATE/n — the rate each replica served. If a replica's CPU per call at RATE/n
# is the same alone as beside others, the rise with the count is the lower load per replica (fewer
# calls to share each wake-up and system call), not the number of replicas.
if [ "$RATE" -gt 0 ]; then
  for spec in "1 $RATE" "2 $RATE" "3 $RATE" "1 $((RATE / 2))" "1 $((RATE / 3))"; do
    read -r n rate <<<"$spec"
    gateway "gr$n" 51153 http://national-eligibility:51171 "$WORK/hosts-$n"
    gpid_var="PID_gr$n"; gpid=${!gpid_var}
    rpids=(); ports=(); for i in $(seq 1 "$n"); do v="PID_r$i"; rpids+=("${!v}"); ports+=("957$i"); done
    ports=$(IFS=,; echo "${ports[*]}")
    RPS=$rate run "cpu at $rate/s: gateway + $n replica(s), L1 path (warming)" http://127.0.0.1:51153 "$WORK/hot-bearer.jsonl" "$ports" "$gpid" "${rpids[@]}"
    RPS=$rate run "cpu at $rate/s: gateway + $n replica(s), L1 path" http://127.0.0.1:51153 "$WORK/hot-bearer.jsonl" "$ports" "$gpid" "${rpids[@]}"
    kill "$gpid"; wait "$gpid" 2>/dev/null || true
  done
fi

# --- What the checks left behind: the audit trail per call. ---
sizes >"$OUT/sizes-at-end.tsv"
audit=$(pq -Atc "SELECT count(*) || ' ' || pg_total_relation_size('eligibility.audit_trail') FROM eligibility.audit_trail")
record "audit trail at the end" "${audit% *}" "records, ${audit#* } bytes with indexes"
echo
echo "## National scale: PERSONS=$PERSONS, SECS=$SECS, CONC=$CONC over $CONNS connections ($(git rev-parse --short HEAD))"
echo
echo "| path | calls/s | ratio to echo | mean ms | p99 ms | L1 | L2 | database | CPU-s per million | OK/calls |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' 'NR == 1 {next} NR == 2 {echo = $2} {printf "| %s | %s | %.2f× | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $2 / echo, $3, $4, $5, $6, $7, $8, $9}' "$RESULTS"
echo
echo "| figure | value | unit |"
echo "|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$OUT/results.tsv"
echo
echo "| table | rows (estimate) | heap bytes | index bytes | total bytes |"
echo "|---|---|---|---|---|"
awk -F'\t' 'NR > 1 {printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$OUT/sizes-after-import.tsv"
echo
echo "results and logs: $OUT"
