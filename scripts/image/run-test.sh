#!/usr/bin/env bash
# The image runs: `kaigo --version`, `kaigo migrate`, every component with `kaigo serve`, and
# `kaigo health` against each, as the chart runs them: read-only root filesystem with only /tmp
# writable (a tmpfs, as the chart's emptyDir), user 65532, no capabilities, no new privileges,
# host networking on loopback. Uses the machine's PostgreSQL (a database of its own, dropped at
# the end) and a private redis-server on a free port. Also checks that the gateway serves the
# web screens, that SIGTERM ends every component with exit 0, and that an unknown KAIGO_*
# variable stops a component with exit 64.
#
#   bash scripts/image/run-test.sh            (make image-run-test; after make image)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$image_root"

image="$IMAGE_NAME:$IMAGE_TAG"
podman_ image exists "$image" || die "no image $image: run make image first"
start=$(now)
mkdir -p "$IMAGE_DIR"
work="$(mktemp -d "$IMAGE_DIR/run-test.XXXXXX")"
label="kaigo-run-test=$$"
cleanup() {
  local id
  for id in $(podman_ ps -aq --filter "label=$label"); do podman_ rm -f -t 0 "$id" >/dev/null 2>&1 || true; done
  fixture_down
  rm -rf "$work"
}
trap cleanup EXIT
fixture_up "$work"
say "run test: database $DB_NAME, private Redis on 127.0.0.1:$REDIS_PORT"

# The chart's pod securityContext, as podman flags.
secure=(--network host --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,size=256m,mode=1777
  --cap-drop ALL --security-opt no-new-privileges --label "$label")
common=(-e KAIGO_DATABASE__URL="$DB_URL" -e KAIGO_REDIS__URL="$REDIS_URL"
  -e KAIGO_INTERNAL_AUTH__SECRET="$INTERNAL_SECRET" -e KAIGO_TELEMETRY__LOG_FORMAT=text)

# 1. the binary runs, as the image's user, with nothing writable but /tmp
version="$(podman_ run --rm "${secure[@]}" "$image" --version)"
say "  $version"
user="$(podman_ image inspect --format '{{.Config.User}}' "$image")"
[[ "$user" == 65532:65532 ]] || die "the image's user is '$user', not 65532:65532"

# 2. migrations, as the migration Job runs them
podman_ run --rm "${secure[@]}" "${common[@]}" "$image" migrate >"$work/migrate.log" 2>&1 \
  || { cat "$work/migrate.log" >&2; die "kaigo migrate failed in the image"; }
say "  kaigo migrate: ok"

# 3. every component the binary serves (`kaigo serve --help`), each on its own loopback port,
#    the gateway last
mapfile -t components < <(podman_ run --rm "${secure[@]}" "$image" serve --help \
  | sed -n 's/.*possible values: \([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d ' ' | grep -v '^gateway$')
(( ${#components[@]} >= 5 )) || die "kaigo serve --help names no components"
components+=(gateway)
declare -A port
for c in "${components[@]}"; do port[$c]="$(free_port)"; done
gateway_env=(-e KAIGO_AUTH__PUBLIC_KEY_FILES='["/etc/kaigo/keys/dev-signing-key.pub.pem"]'
  -v "$PUBLIC_DIR/dev-signing-key.pub.pem:/etc/kaigo/keys/dev-signing-key.pub.pem:ro"
  -e KAIGO_GATEWAY__WEB__ROOT=/usr/share/kaigo/web)
for c in "${components[@]}"; do
  [[ $c == gateway ]] || gateway_env+=(-e "KAIGO_GATEWAY__UPSTREAMS__${c^^}=http://127.0.0.1:${port[$c]}")
done
for c in "${components[@]}"; do
  extra=()
  case $c in
    certification) extra=(-e KAIGO_CERTIFICATION__ELIGIBILITY_URL="http://127.0.0.1:${port[eligibility]}") ;;
    documents) extra=(-e KAIGO_DOCUMENTS__STORAGE_URL=file:///tmp/kaigo-documents -e KAIGO_DOCUMENTS__ENCRYPTION_KEYS="$DOCUMENTS_KEY") ;;
    gateway) extra=("${gateway_env[@]}") ;;
  esac
  podman_ run -d --name "kaigo-run-test-$c-$$" "${secure[@]}" "${common[@]}" "${extra[@]}" \
    -e KAIGO_SERVER__LISTEN="127.0.0.1:${port[$c]}" "$image" serve "$c" >/dev/null
done

# 4. kaigo health (the probes' command) inside each container until READY
for c in "${components[@]}"; do
  ok=""
  for _ in $(seq 1 120); do
    if podman_ exec "kaigo-run-test-$c-$$" /usr/local/bin/kaigo health --endpoint "http://127.0.0.1:${port[$c]}" --service readiness >"$work/probe.log" 2>&1; then
      ok=1; break
    fi
    state="$(podman_ inspect --format '{{.State.Status}}' "kaigo-run-test-$c-$$")"
    [[ "$state" == running ]] || break
    sleep 0.5
  done
  if [[ -z "$ok" ]]; then
    podman_ logs "kaigo-run-test-$c-$$" 2>&1 | tail -30 >&2
    echo "--- the last probe:" >&2; cat "$work/probe.log" >&2
    die "kaigo serve $c did not become ready in the image"
  fi
  podman_ exec "kaigo-run-test-$c-$$" /usr/local/bin/kaigo health --endpoint "http://127.0.0.1:${port[$c]}" --service liveness >/dev/null \
    || die "kaigo serve $c: liveness is not SERVING"
  # the process: uid 65532, / read-only, /tmp the only writable file system of the image's own
  pid="$(podman_ inspect --format '{{.State.Pid}}' "kaigo-run-test-$c-$$")"
  uid="$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
  [[ "$uid" == 65532 ]] || die "kaigo serve $c runs as uid $uid"
  root_opts="$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | tail -1)"
  [[ ",$root_opts," == *,ro,* ]] || die "kaigo serve $c: / is mounted $root_opts, not read-only"
  writable="$(awk '$6 ~ /(^|,)rw(,|$)/ { print $5 }' "/proc/$pid/mountinfo" \
    | grep -v -E '^/(tmp|proc|dev|sys)(/|$)|^/etc/(hosts|hostname|resolv\.conf)$|^/run/\.containerenv$' || true)"
  [[ -z "$writable" ]] || die "kaigo serve $c: writable besides /tmp: $writable"
  say "  kaigo serve $c: ready and live on 127.0.0.1:${port[$c]} (uid 65532, / read-only, /tmp tmpfs)"
done

# 5. the gateway serves the screens from the image
code="$(curl -s -o "$work/index.html" -w '%{http_code}' "http://127.0.0.1:${port[gateway]}/")"
[[ "$code" == 200 ]] && grep -q '<div id="root"\|<script' "$work/index.html" \
  || die "the gateway does not serve the web screens (HTTP $code)"
say "  the gateway serves the web screens (/usr/share/kaigo/web)"

# 6. an unknown variable stops a component with exit 64 and names the key
set +e
podman_ run --rm "${secure[@]}" "${common[@]}" -e KAIGO_SUBSIDIES__NO_SUCH_KEY=1 \
  -e KAIGO_SERVER__LISTEN="127.0.0.1:$(free_port)" "$image" serve subsidies >"$work/unknown.log" 2>&1
rc=$?
set -e
[[ $rc == 64 ]] && grep -qi 'no_such_key' "$work/unknown.log" \
  || { cat "$work/unknown.log" >&2; die "an unknown KAIGO_ variable gave exit $rc, not 64 naming the key"; }
say "  an unknown KAIGO_SUBSIDIES__NO_SUCH_KEY stops kaigo serve subsidies (exit 64)"

# 7. SIGTERM: every component drains and exits 0
for c in "${components[@]}"; do
  podman_ stop -t 30 "kaigo-run-test-$c-$$" >/dev/null
  rc="$(podman_ inspect --format '{{.State.ExitCode}}' "kaigo-run-test-$c-$$")"
  [[ "$rc" == 0 ]] || { podman_ logs "kaigo-run-test-$c-$$" 2>&1 | tail -20 >&2; die "kaigo serve $c exited $rc on SIGTERM"; }
done
say "  SIGTERM: all ${#components[@]} exit 0"
say "run test passed in $(( $(now) - start )) s"
