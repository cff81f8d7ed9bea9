#!/usr/bin/env bash
# The database path with distinct persons (loadtest/README.md#database-profile): CheckEligibility
# with keys uniform over PERSONS persons on an eligibility instance with L1 off and L2 a Redis
# that refuses every write, so every check reads PostgreSQL and no two calls share a read —
# what reading concurrent misses together cannot help. Driven by `kaigo bench --data-lines`,
# each run with keys of its own (loadtest/national/keys.py, uniform), paired in each round with
# a run against the bare echo server right before it; the ratio is instance ÷ that echo run.
#   cargo build --release -p kaigo && flock /tmp/loadtest.lock bash loadtest/eligibility/distinct.sh
# KAIGO_BIN is the build measured; with BASE_BIN a second build serves a second instance over
# the same database, measured in the same rounds (which goes first alternates by round).
# Needs PostgreSQL on 127.0.0.1:5432 (trust), redis-server, python3. Everything it starts
# listens on 127.0.0.1 (ports PORT..PORT+99) and is stopped at exit; its database and its
# Redis are dropped. It takes no lock itself: run it under the shared one as above.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo (or set KAIGO_BIN)" >&2; exit 1; }
BASE_BIN=${BASE_BIN:-}
[ -z "$BASE_BIN" ] || [ -x "$BASE_BIN" ] || { echo "BASE_BIN $BASE_BIN is not executable" >&2; exit 1; }
PERSONS=${PERSONS:-100000}
SECS=${SECS:-15}            # seconds per run
CONC=${CONC:-256}           # calls in flight
CONNS=${CONNS:-4}           # HTTP/2 connections of the driver
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-300000}      # lines per call file (a run that needs more cycles through it)
PORT=${PORT:-52100}
INSURER=435073
SECRET="distinct-internal-secret-of-at-least-32-bytes"
CHECK=/kaigo.eligibility.v1.EligibilityService/CheckEligibility
P_GATEWAY=$((PORT + 51)) P_ECHO=$((PORT + 90)) P_REDIS=$((PORT + 92)) P_DEV=$((PORT + 99))
. loadtest/lib.sh
say "start: $BIN${BASE_BIN:+ and $BASE_BIN}, $PERSONS persons, $ROUNDS rounds of ${SECS} s, $CONC in flight over $CONNS connections"
lt_begin distinct  # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
# A Redis that refuses every write (as run.sh's "database" instance has): L2 never fills.
lt_redis "$P_REDIS" --maxmemory 1 --maxmemory-policy noeviction
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="$SECRET"
export KAIGO_TELEMETRY__LOG_LEVEL=${LOG_LEVEL:-info} KAIGO_REDIS__URL="redis://127.0.0.1:$P_REDIS" KAIGO_REDIS__KEY_PREFIX="distinct:"
"$BIN" migrate eligibility >/dev/null

# The instances: L1 off, L2 refusing writes, logging as production does (LOG_LEVEL=info).
NAMES=(a) BINS=("$BIN") PORTS=($((PORT + 61)))
[ -n "$BASE_BIN" ] && NAMES+=(b) BINS+=("$BASE_BIN") PORTS+=($((PORT + 62)))
declare -A PID_OF
for i in "${!NAMES[@]}"; do
  env KAIGO_SERVER__LISTEN="127.0.0.1:${PORTS[$i]}" KAIGO_ELIGIBILITY__L1_ENABLED=false \
    "${BINS[$i]}" serve eligibility >"$WORK/${NAMES[$i]}.log" 2>&1 & PIDS+=($!)
  PID_OF[${NAMES[$i]}]=$!
done
"$BIN" echo-server --listen "127.0.0.1:$P_ECHO" >/dev/null 2>&1 & PIDS+=($!)
for port in "${PORTS[@]}"; do lt_up "127.0.0.1:$port"; done
# The echo server has no health service: wait for its port.
for _ in $(seq 1 100); do (: >"/dev/tcp/127.0.0.1/$P_ECHO") 2>/dev/null && break; sleep 0.1; done

# The import goes through a gateway (JWT on, the dev key kaigo dev makes) to the first instance.
lt_dev_keys "$WORK/keys" "$P_DEV"
env KAIGO_SERVER__LISTEN="127.0.0.1:$P_GATEWAY" KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]" \
  KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY="http://127.0.0.1:${PORTS[0]}" "$BIN" serve gateway >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
PID_gateway=$!
lt_up "127.0.0.1:$P_GATEWAY"
TOKEN=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer $INSURER --ttl 1h)
"$BIN" gen insured --count "$PERSONS" --insurer $INSURER --seed 7 >"$WORK/persons.csv"
say "import: $("$BIN" import insured "$WORK/persons.csv" --endpoint "http://127.0.0.1:$P_GATEWAY" --token "$TOKEN" --chunk 5000 | tail -1)"
kill $PID_gateway; wait $PID_gateway 2>/dev/null || true
rm -f "$WORK/persons.csv"
psql -q -h 127.0.0.1 -U postgres -d "$DB" -c "VACUUM ANALYZE" >/dev/null

# Signed caller headers of the insurer, filled in by kaigo bench from the environment.
mapfile -t headers < <("$BIN" token --role insurer --insurer $INSURER --ttl 2h --caller-headers-for $CHECK --internal-secret "$SECRET")
export "CALLER_$INSURER=${headers[0]#*: }" "SIG_$INSURER=${headers[1]#*: }"
# shellcheck disable=SC2016 # ${...} is for kaigo bench to fill, not the shell
TEMPLATE=$(printf '{"%s": "${CALLER_INSURER}", "%s": "${SIG_INSURER}"}' "${headers[0]%%: *}" "${headers[1]%%: *}")
printf '%s\t%s\n' $INSURER "$PERSONS" >"$WORK/insurers.tsv"
cat >"$WORK/check.json" <<'JSON'
{"call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility", "insecure": true, "timeout": "20s"}
JSON

TICK_US=$((1000000 / $(getconf CLK_TCK)))
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of a pid, clock ticks
# One run: kaigo bench for SECS against a port; prints "calls/s OK-calls mean-ms cycled" and,
# with a pid, the pid's CPU µs per OK call.
run() { # port file [pid]
  local before=0 after=0
  [ -n "${3:-}" ] && before=$(ticks "$3")
  "$BIN" bench "$WORK/check.json" --endpoint "http://127.0.0.1:$1" --data-lines "$2" --duration "${SECS}s" \
    --concurrency "$CONC" --connections "$CONNS" --format json --max-error-percent 0 >"$WORK/run.json" 2>"$WORK/run.err" \
    || { cat "$WORK/run.err" "$WORK/run.json" >&2; exit 1; }
  [ -n "${3:-}" ] && after=$(ticks "$3")
  python3 - "$WORK/run.json" "$CALLS" $((after - before)) "$TICK_US" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["statusCodeDistribution"].get("OK", 0)
cpu = int(sys.argv[3]) * int(sys.argv[4]) / max(ok, 1)
print("%.0f %d %.2f %s %.1f" % (r["rps"], ok, r["average"] / 1e6, "cycled" if r["count"] > int(sys.argv[2]) else "-", cpu))
PY
}

# Rounds: per instance a call file of its own (its own seed), the echo run right before it.
RUNS="$WORK/runs.tsv"   # round, instance, echo calls/s, calls/s, OK calls, mean ms, cycled, CPU µs per call
ANSWERED=0
for round in $(seq 1 "$ROUNDS"); do
  order=("${!NAMES[@]}")
  [ $((round % 2)) = 0 ] && [ ${#order[@]} = 2 ] && order=(1 0)
  for i in "${order[@]}"; do
    name=${NAMES[$i]}
    file="$WORK/keys-$round-$name.jsonl"
    python3 loadtest/national/keys.py check "$WORK/insurers.tsv" uniform "$CALLS" $((round * 10 + i)) "$TEMPLATE" >"$file"
    out=$(run "$P_ECHO" "$file"); read -r echo_rps _ <<<"$out"
    out=$(run "${PORTS[$i]}" "$file" "${PID_OF[$name]}"); read -r rps ok mean cycled cpu <<<"$out"
    ANSWERED=$((ANSWERED + ok))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$echo_rps" "$rps" "$ok" "$mean" "$cycled" "$cpu" >>"$RUNS"
    say "round $round, $name (${BINS[$i]}): $rps calls/s (echo $echo_rps), $cpu µs CPU per call, call file $cycled"
    rm -f "$file"
  done
done

# Every check is one audit row, written off the request path: wait for the count to settle.
audit() { psql -q -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT count(*) FROM eligibility.audit_trail WHERE rpc = 'CheckEligibility'"; }
for _ in $(seq 1 30); do [ "$(audit)" -ge "$ANSWERED" ] && break; sleep 1; done

echo
echo "## Distinct persons: $PERSONS persons, uniform keys, L1 off, L2 refusing writes; $CONC in flight over $CONNS connections, ${SECS} s a run ($(date -u +%Y-%m-%d), load average at the end $(cut -d' ' -f1-3 /proc/loadavg))"
echo
python3 - "$RUNS" "${NAMES[@]}" "${BINS[@]}" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
names = sys.argv[2:2 + (len(sys.argv) - 2) // 2]
bins = dict(zip(names, sys.argv[2 + len(names):]))
print("| round | instance | echo calls/s | instance calls/s | ratio to that echo run | instance CPU µs per call | mean ms |")
print("|---|---|---|---|---|---|---|")
for name in names:
    mine = [r for r in rows if r[1] == name]
    for r in mine:
        cycled = " (call file cycled)" if r[6] == "cycled" else ""
        print(f"| {r[0]} | {name} ({bins[name]}) | {r[2]} | {r[3]}{cycled} | {float(r[3]) / float(r[2]):.2f}× | {r[7]} | {r[5]} |")
    med = lambda col: statistics.median(float(r[col]) for r in mine)
    ratio = statistics.median(float(r[3]) / float(r[2]) for r in mine)
    print(f"| median | {name} | {med(2):.0f} | {med(3):.0f} | {ratio:.2f}× | {med(7):.1f} | {med(5):.2f} |")
PY
echo
echo "(ratio: the instance's calls/s ÷ those of the echo run right before it, same driver and call file; CPU per"
echo "call: the instance's utime + stime over the run ÷ the calls answered OK, from /proc.)"
echo "audit trail: $(audit) CheckEligibility records; the runs answered $ANSWERED calls"
for i in "${!NAMES[@]}"; do
  echo "resident memory of instance ${NAMES[$i]} after the runs: $(awk '/VmRSS/ {print $2, $3}' "/proc/${PID_OF[${NAMES[$i]}]}/status")"
done
