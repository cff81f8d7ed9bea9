# Open-loop latency at half of each gateway path's peak rate (issue #15 item 6: p99 through
# the gateway <= 2 ms on an L1 hit, <= 5 ms on an L2 hit). Sourced by run.sh at its end, after
# the peak rates are in $RESULTS; uses run.sh's $BIN, $WORK, $TOKEN and its gateways on 50051
# (L1 instance) and 50052 (L1-off instance, every check an L2 read), and its echo server on 50090.
#
# `kaigo bench --rps` starts calls on a fixed schedule whether or not earlier ones have been
# answered and times each from its scheduled start, so a stall shows as latency, not as fewer
# calls (loadtest/README.md#p99). P99_SECS (10), P99_CAP (calls in flight at most, 256) and
# P99_CONNECTIONS (4) override the defaults.

P99_SECS=${P99_SECS:-10}
P99_CAP=${P99_CAP:-256}
P99_CONNECTIONS=${P99_CONNECTIONS:-4}

# The hot key of loadtest/scenarios/eligibility-check-hot.json, the token as that scenario passes it.
cat >"$WORK/p99.json" <<'JSON'
{
  "name": "eligibility CheckEligibility 435073/0000000001, open loop",
  "call": "kaigo.eligibility.v1.EligibilityService.CheckEligibility",
  "insecure": true,
  "timeout": "5s",
  "data": {"insurer_number": "435073", "insured_number": "0000000001"},
  "metadata": {"authorization": "Bearer ${KAIGO_TOKEN}"}
}
JSON

p99_row() { # label path-of-the-peak endpoint limit-ms ; one row of the table, and the calls answered for the audit count
  local label=$1 of=$2 endpoint=$3 limit=$4 peak rate report
  peak=$(awk -F'\t' -v l="$of" '$1 == l {print $2}' "$RESULTS")
  if [ -z "$peak" ]; then
    echo "| $label | — (no peak rate for $of in this run) | | | | | | | | ≤ $limit ms — not measured |"
    return
  fi
  rate=$(awk -v p="$peak" 'BEGIN {printf "%.0f", p / 2}')
  report="$WORK/p99-${endpoint##*:}-$rate.json"
  # The report is read whatever the exit status: errors are counted in the table, never hidden.
  "$BIN" bench "$WORK/p99.json" --endpoint "$endpoint" --token "$TOKEN" --rps "$rate" --duration "${P99_SECS}s" \
    --concurrency "$P99_CAP" --connections "$P99_CONNECTIONS" --max-error-percent 100 --format json \
    >"$report" 2>"$report.err" || echo "kaigo bench on $label: exit $? ($(tail -1 "$report.err"))" >&2
  # A failure here must not stop run.sh before its audit-trail check: say so in the row instead.
  python3 - "$report" "$label" "$rate" "$limit" "$WORK/calls.tsv" <<'PY' ||
import json, sys
path, label, rate, limit, calls = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
r = json.load(open(path))
o = r["openLoop"]
ok = r["statusCodeDistribution"].get("OK", 0)
errors = r["count"] - ok
tail = {d["percentage"]: d["latency"] for d in r["latencyDistribution"]}
ms = lambda ns: f"{ns / 1e6:.2f} ms"
p99 = tail[99] / 1e6
# Met only when the rate was held: no call left unsent, none failed, and the p99 within the limit.
target = "—" if limit == "-" else f"≤ {limit} ms — " + (
    "met" if p99 <= float(limit) and o["unsent"] == 0 and errors == 0 else "**missed**")
# Every call answered is a personal read on the audit trail (run.sh compares it at the end).
with open(calls, "a") as f:
    f.write(f"p99 {label}\t{ok}\n")
print(f"| {label} | {rate:.0f}/s | {o['sentRps']:.0f}/s ({o['sent']} calls) | {ms(tail[50])} | {ms(tail[99])} "
      f"| {ms(tail[99.9])} | {ms(r['slowest'])} | {o['late']} / {o['unsent']} / {errors} "
      f"| {ms(o['sendLag']['p99'])} | {target} |")
PY
    echo "| $label | ${rate}/s | — (no report: $(tail -1 "$report.err")) | | | | | | | ≤ $limit ms — not measured |"
}

case "$("$BIN" bench --help 2>/dev/null || true)" in
  *--rps*)
    echo
    echo "Open loop, ${P99_SECS} s a path at half its peak rate above (kaigo bench --rps, at most $P99_CAP in flight over $P99_CONNECTIONS connections; load average before: $(cut -d' ' -f1-3 /proc/loadavg)):"
    echo
    echo "| path | target rate (½ peak) | sent | p50 | p99 | p99.9 | max | late / unsent / errors | driver send lag p99 | p99 target (issue #15) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    # Each path right after the bare echo server at the same rate: the driver, the stack and this
    # machine's scheduling at that rate, in the same minute (echo calls are not audited).
    p99_row "echo (baseline) at the L1 rate" "gateway L1 hit (JWT on)" http://127.0.0.1:50090 -
    p99_row "gateway L1 hit (JWT on)" "gateway L1 hit (JWT on)" http://127.0.0.1:50051 2
    p99_row "echo (baseline) at the L2 rate" "gateway L2 hit (JWT on)" http://127.0.0.1:50090 -
    p99_row "gateway L2 hit (JWT on)" "gateway L2 hit (JWT on)" http://127.0.0.1:50052 5
    echo "(latency from each call's scheduled start; late: waited for room under the cap; driver send lag: scheduled start to the call going out, inside the latencies)"
    ;;
  *) echo; echo "Open loop p99: skipped, $BIN has no kaigo bench --rps (a build from before it)." ;;
esac
