#!/usr/bin/env bash
# Runs loadtest/scenarios/*.json (or the ones named) with ghz, or with `kaigo bench` where ghz
# is not installed, and keeps each report under loadtest/results/<timestamp>/.
#
#   KAIGO_TOKEN=... loadtest/run.sh [--host HOST:PORT] [scenario.json ...]
#
# The token replaces the ${KAIGO_TOKEN} placeholder in a private copy of each config (mode
# 600, removed on exit); it is never written into the repository or onto a command line.
set -euo pipefail
cd "$(dirname "$0")/.."

host=""
if [[ "${1:-}" == "--host" ]]; then host="$2"; shift 2; fi
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(loadtest/scenarios/*.json)

out="loadtest/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
private="$(mktemp -d)"
chmod 700 "$private"
trap 'rm -rf "$private"' EXIT

for scenario in "${scenarios[@]}"; do
  name="$(basename "$scenario" .json)"
  echo "== $name" >&2
  if command -v ghz >/dev/null; then
    config="$private/$name.json"
    (umask 077; python3 - "$scenario" "$config" "$host" <<'PY'
import json, os, sys
src, dst, host = sys.argv[1:4]
config = json.load(open(src))
token = os.environ.get("KAIGO_TOKEN", "")
for key, value in config.get("metadata", {}).items():
    if "${KAIGO_TOKEN}" in value:
        if not token:
            sys.exit(f"{src} needs KAIGO_TOKEN ({config.get('tags', {}).get('token', 'kaigo token ...')})")
        config["metadata"][key] = value.replace("${KAIGO_TOKEN}", token)
if host:
    config["host"] = host
json.dump(config, open(dst, "w"))
PY
    )
    ghz --config "$config" --format json --output "$out/$name.json"
  else
    endpoint=()
    [[ -n "$host" ]] && endpoint=(--endpoint "http://$host")
    cargo run -q --release -p kaigo -- bench "$scenario" "${endpoint[@]}" --format json > "$out/$name.json"
  fi
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); p={d["percentage"]: d["latency"]/1e6 for d in r["latencyDistribution"]}; print(f"   count {r[\"count\"]}  rps {r[\"rps\"]:.0f}  p50 {p[50]:.2f} ms  p99 {p[99]:.2f} ms  status {r[\"statusCodeDistribution\"]}")' "$out/$name.json" >&2
done
echo "reports in $out" >&2
