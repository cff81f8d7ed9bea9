#!/usr/bin/env bash
# What an import does to the checks served beside it (loadtest/README.md#import-under-load):
# CheckEligibility through the gateway at a fixed rate (open loop, L2 hits: the instance runs with
# L1 off) over one insurer's persons, while another insurer's extract of PERSONS persons is
# imported through the same gateway into the same instance — first created, then imported again
# unchanged, then imported with every person changed (another seed of the generator: what an
# annual re-determination of the co-payment ratio sends). Each case is one run of SECS seconds,
# the import starting 4 s in; a run of the checks alone comes first. Prints p50/p99/max of the
# checks, the calls the driver could send (at most CONC in flight: a stall shows as calls not
# sent), the import's own summary and time, how long after it its events took to be published
# and handled, and the seconds the import spent in each of its stages.
#   cargo build --release -p kaigo && bash loadtest/eligibility/import-under-load.sh
# Needs PostgreSQL on 127.0.0.1:5432 (trust), redis-server, python3. Everything it starts
# listens on 127.0.0.1 and is stopped at exit; its database and its Redis are dropped. Each run
# holds /tmp/loadtest.lock (LOCK=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo (or set KAIGO_BIN)" >&2; exit 1; }
RATE=${RATE:-2000}          # checks/s
SECS=${SECS:-30}            # seconds a run
CONC=${CONC:-256}           # checks in flight at most
PERSONS=${PERSONS:-100000}  # persons of the imported extract
CHECKED=${CHECKED:-50000}   # persons of the checked insurer
REDIS_PORT=${REDIS_PORT:-6401}
. loadtest/lib.sh
lt_begin importload  # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
lt_lock_fd
lt_redis "$REDIS_PORT"
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="import-load-internal-secret-of-at-least-32-bytes"
export KAIGO_TELEMETRY__LOG_LEVEL=${LOG_LEVEL:-info} KAIGO_REDIS__URL="redis://127.0.0.1:$REDIS_PORT" KAIGO_REDIS__KEY_PREFIX="importload:"
"$BIN" migrate eligibility >/dev/null
lt_dev_keys "$WORK/keys" 52899
env KAIGO_ELIGIBILITY__L1_ENABLED=false KAIGO_SERVER__LISTEN=127.0.0.1:52861 \
  KAIGO_TELEMETRY__METRICS_LISTEN=127.0.0.1:52862 "$BIN" serve eligibility \
  9>&- >"$WORK/eligibility.log" 2>&1 & PIDS+=($!)
env KAIGO_SERVER__LISTEN=127.0.0.1:52851 KAIGO_GATEWAY__LIMITS__RATE_PER_SEC=100000000 KAIGO_GATEWAY__LIMITS__BURST=100000000 \
  KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]" KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY=http://127.0.0.1:52861 \
  "$BIN" serve gateway 9>&- >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
lt_up 127.0.0.1:52861
lt_up 127.0.0.1:52851

# The checked insurer (its persons imported, so L2 holds them) and the imported one.
CHECKED_TOKEN=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer 435073 --ttl 4h)
IMPORT_TOKEN=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer 131011 --ttl 4h)
"$BIN" gen insured --count "$CHECKED" --insurer 435073 --seed 7 >"$WORK/checked.csv"
"$BIN" import insured "$WORK/checked.csv" --endpoint http://127.0.0.1:52851 --token "$CHECKED_TOKEN" --chunk 5000 >/dev/null
printf '435073\t%s\n' "$CHECKED" >"$WORK/insurers.tsv"
python3 loadtest/national/keys.py check "$WORK/insurers.tsv" uniform 400000 5 \
  '{"authorization": "Bearer '"$CHECKED_TOKEN"'"}' >"$WORK/calls.jsonl"
echo '{"call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility", "insecure": true, "timeout": "60s"}' >"$WORK/check.json"
"$BIN" gen insured --count "$PERSONS" --insurer 131011 --seed 11 >"$WORK/first.csv"
"$BIN" gen insured --count "$PERSONS" --insurer 131011 --seed 12 >"$WORK/changed.csv"
bench() { # seconds
  "$BIN" bench "$WORK/check.json" --endpoint http://127.0.0.1:52851 --data-lines "$WORK/calls.jsonl" --duration "$1s" \
    --rps "$RATE" --concurrency "$CONC" --connections 4 --format json 2>/dev/null
}
bench 3 >/dev/null   # connections open, every checked person read once

# Seconds from now until the import's events are all handled: no outbox row unpublished and the
# eligibility.changed stream read and acknowledged by every group (what an import changing many
# persons leaves to the relay and the consumer after its summary).
events_settled() {
  local t0 unpublished backlog
  t0=$(date +%s.%N)
  for _ in $(seq 1 3000); do
    unpublished=$(psql -Atq "$PGURL" -c "SELECT count(*) FROM eligibility.outbox WHERE published_at IS NULL")
    backlog=$(redis-cli -p "$REDIS_PORT" --raw XINFO GROUPS importload:events:eligibility.changed 2>/dev/null |
      awk 'prev == "pending" || prev == "lag" {n += $1} {prev = $1} END {print n + 0}')
    if [ "$unpublished" = 0 ] && [ "$backlog" = 0 ]; then
      awk "BEGIN {printf \"%.1f s\", $(date +%s.%N) - $t0}"
      return
    fi
    sleep 0.2
  done
  echo "not in 10 min"
}

# Seconds each import stage took so far, summed over chunks (kaigo_eligibility_import_stage_duration_seconds
# from the server's /metrics), as "stage seconds" lines.
stage_sums() {
  python3 - <<'PY'
import re, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:52862/metrics", timeout=10).read().decode()
for m in re.finditer(r'^kaigo_eligibility_import_stage_duration_seconds_sum\{([^}]*)\} (\S+)$', text, re.M):
    stage = re.search(r'stage="([^"]+)"', m.group(1))
    if stage:
        print(stage.group(1), m.group(2))
PY
}

RESULTS="$WORK/results.tsv"
STAGES="$WORK/stages.tsv"
for case in "alone -" "fresh import first.csv" "unchanged re-run first.csv" "every person changed changed.csv"; do
  label=${case% *} file=${case##* }
  lock "$label"
  bench "$SECS" >"$WORK/run.json" &
  driver=$!
  summary="-" took="-" settled="-"
  if [ "$file" != - ]; then
    sleep 4
    stage_sums >"$WORK/stages-before"
    t0=$(date +%s.%N)
    summary=$("$BIN" import insured "$WORK/$file" --endpoint http://127.0.0.1:52851 --token "$IMPORT_TOKEN" --chunk 5000 | tail -1)
    took=$(awk "BEGIN {printf \"%.1f s\", $(date +%s.%N) - $t0}")
    settled=$(events_settled)
    stage_sums >"$WORK/stages-after"
    python3 - "$label" "$WORK/stages-before" "$WORK/stages-after" >>"$STAGES" <<'PY'
import sys
label, before, after = sys.argv[1:4]
read = lambda path: {k: float(v) for k, v in (line.split() for line in open(path) if line.strip())}
b, a = read(before), read(after)
order = ["encode", "begin", "copy", "create", "compare", "load", "diff", "update", "void", "insert", "enqueue", "commit", "invalidate", "hand_over", "l2_read", "l2_write"]
print(label + "\t" + "\t".join(f"{a.get(s, 0) - b.get(s, 0):.2f}" for s in order))
PY
  fi
  wait "$driver"
  unlock
  python3 - "$label" "$took" "$summary" "$WORK/run.json" "$RATE" "$SECS" "$settled" <<'PY' | tee -a "$RESULTS" >&2
import json, sys
label, took, summary, path, rate, secs, settled = sys.argv[1:8]
r = json.load(open(path))
ok = r["statusCodeDistribution"].get("OK", 0)
d = {x["percentage"]: x["latency"] / 1e6 for x in r["latencyDistribution"]}
asked = int(rate) * int(secs)
print(f"{label}\t{took}\t{summary}\t{settled}\t{r['count']} of {asked}\t{ok}\t{d.get(50, 0):.2f}\t{d.get(99, 0):.2f}\t{r['slowest'] / 1e6:.2f}")
PY
done

echo
echo "## Checks beside an import: $RATE checks/s (L2 hits) for ${SECS} s a case, $PERSONS persons imported ($(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "| case | import took | import summary | its events handled after | checks sent (of asked) | OK | p50 ms | p99 ms | slowest ms |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}' "$RESULTS"
echo
echo "Seconds in each stage of the import, summed over its chunks (the writer's stages run one after another;"
echo "l2_read and l2_write run beside the next chunk's; services/eligibility/src/store/bulk/stages.rs):"
echo
echo "| case | encode | begin | copy | create | compare | load | diff | update | void | insert | enqueue | commit | invalidate | hand_over | l2_read | l2_write |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{line = "| " $1; for (i = 2; i <= NF; i++) line = line " | " $i; print line " |"}' "$STAGES"
