#!/usr/bin/env bash
# The manifests run as pods: the kustomize dev overlay (k8s/overlays/dev), adapted to one
# machine by scripts/image/kube_adapt.py, played with `podman kube play`: the migration Job's
# pod first (it must exit 0), then the five services and the gateway; every pod's startup,
# liveness and readiness probe command succeeds (every component the manifests deploy); CheckEligibility, SubmitApplication and a
# careplan SendBundle succeed through the gateway pod (scripts/image/calls.py, sent with the
# image's own `kaigo bench`, tokens from `kaigo token` with the key the gateway pod is given);
# a variable the subsidies component does not know makes its pod fail (exit 64); then
# everything is removed (`podman kube down`, secrets).
#
#   bash scripts/image/pod-test.sh        (make pod-test; after make image)
#
# Uses the machine's PostgreSQL (a database kaigo_image_<random>, dropped at the end), a private
# redis-server on a free loopback port, and free loopback ports for the six components.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$image_root"

image="$IMAGE_NAME:$IMAGE_TAG"
podman_ image exists "$image" || die "no image $image: run make image first"
command -v kubectl >/dev/null || die "kubectl is not installed (it renders k8s/overlays/dev)"
# What is played: a kustomize overlay (default k8s/overlays/dev), or POD_TEST_MANIFESTS, a file of
# rendered manifests (the chart: scripts/image/render-chart.sh VALUES > FILE).
overlay="${POD_TEST_OVERLAY:-k8s/overlays/dev}"
manifests="${POD_TEST_MANIFESTS:-}"
start=$(now)
mkdir -p "$IMAGE_DIR"
work="$(mktemp -d "$IMAGE_DIR/pod-test.XXXXXX")"
played=()
secrets=()
# kube down: podman 4.3 without systemd complains that it cannot remove the probes' healthcheck
# timers, and plays each emptyDir as one named volume all pods share (removed with the last);
# those messages go to a log, the outcome is checked by the cleanup (no pods left).
down() {
  local f
  for f in "${played[@]}"; do podman_ kube down "$f" >>"$work/down.log" 2>&1 || true; done
  played=()
  podman_ volume prune -f >>"$work/down.log" 2>&1 || true
}
cleanup() {
  set +e
  down
  for s in "${secrets[@]}"; do podman_ secret rm "$s" >/dev/null 2>&1; done
  for id in $(podman_ ps -aq --filter "label=kaigo-pod-test=$$"); do podman_ rm -f -t 0 "$id" >/dev/null 2>&1; done
  fixture_down
  rm -rf "$work"
}
trap cleanup EXIT
fixture_up "$work"

if [[ -n "$manifests" ]]; then
  cp "$manifests" "$work/rendered.yaml"
  overlay="$manifests"
else
  kubectl kustomize "$overlay" >"$work/rendered.yaml"
fi
adapt() { # out-dir [extra args]
  local out="$1"; shift
  "$PY_YAML" "$image_root/scripts/image/kube_adapt.py" "$work/rendered.yaml" --out "$out" --image "$image" \
    --database-url "$DB_URL" --redis-url "$REDIS_URL" --key-dir "$PUBLIC_DIR" --ports auto "$@"
}
adapt "$work/kube"
plan() { python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/kube/plan.json" "$1"; }
# the manifests' Deployments, services first, the gateway last
mapfile -t components < <(plan "'\n'.join(p['order'])")
say "pod test: $overlay adapted (database $DB_NAME, Redis 127.0.0.1:$REDIS_PORT; $(plan "', '.join(f'{c} {p[\"components\"][c][\"port\"]}' for c in p['order'])"))"

# podman resolves secretKeyRef from its own secret store; ConfigMaps are given with --configmap.
for f in "$work"/kube/secrets/*.json; do
  s="$(basename "$f" .json)"
  podman_ secret create "$s" "$f" >/dev/null
  secrets+=("$s")
done
configmaps="$(ls "$work"/kube/configmaps/*.yaml | paste -sd, -)"
# kube play builds an image from a folder named like the image: play from an empty folder.
mkdir -p "$work/play" && cd "$work/play"
play() { # component
  played+=("$work/kube/$1.yaml") # also when play fails half-way: kube down removes what it made
  podman_ kube play --quiet --configmap "$configmaps" "$work/kube/$1.yaml" >"$work/play-$1.log" 2>&1 \
    || { cat "$work/play-$1.log" >&2; die "podman kube play $1.yaml failed"; }
}
container_of() { # component -> the container podman made for it
  local pod
  pod="$(podman_ pod ps --format '{{.Name}}' --filter "name=^$(plan "p['components']['$1']['name']")(-pod-0)?\$" | head -1)"
  [[ -n "$pod" ]] || die "no pod for $1"
  podman_ ps -a --format '{{.Names}}' --filter "pod=$pod" | grep -v -- '-infra$' | head -1
}

# 1. the migration Job's pod, to completion
play migrate
ctr="$(container_of migrate)"
for _ in $(seq 1 300); do
  [[ "$(podman_ inspect --format '{{.State.Status}}' "$ctr")" == exited ]] && break
  sleep 0.5
done
rc="$(podman_ inspect --format '{{.State.ExitCode}}' "$ctr")"
[[ "$rc" == 0 ]] || { podman_ logs "$ctr" 2>&1 | tail -30 >&2; die "the migration pod exited $rc"; }
say "  migration pod: exit 0 ($(( $(now) - start )) s)"

# 2. the services, then the gateway; each ready when its readiness probe command succeeds
probe() { # component kind -> runs that probe's command in the component's container
  local -a cmd
  mapfile -t cmd < <(plan "'\n'.join(p['components']['$1']['probes']['$2'])")
  podman_ exec "$(container_of "$1")" "${cmd[@]}" >/dev/null 2>&1
}
for c in "${components[@]}"; do play "$c"; done
for c in "${components[@]}"; do
  ok=""
  for _ in $(seq 1 180); do
    if probe "$c" readinessProbe; then ok=1; break; fi
    sleep 0.5
  done
  [[ -n "$ok" ]] || { podman_ logs "$(container_of "$c")" 2>&1 | tail -30 >&2; die "the $c pod never became ready"; }
done
for c in "${components[@]}"; do
  for kind in startupProbe livenessProbe readinessProbe; do
    probe "$c" "$kind" || die "the $c pod's $kind command fails"
  done
  say "  $c pod: startup, liveness and readiness probe commands succeed"
done
say "  all ${#components[@]} pods ready ($(( $(now) - start )) s)"

# 3. calls through the gateway pod, with the image's own client
gateway="$(plan "p['components']['gateway']['port']")"
python3 "$image_root/scripts/image/calls.py" "$work/calls"
client=(podman_ run --rm --network host --read-only --read-only-tmpfs=false --label "kaigo-pod-test=$$"
  -v "$work/calls:/calls:ro" -v "$KEY_DIR:/keys:ro" -e KAIGO_TOKEN)
for config in "$work"/calls/*.json; do
  name="$(basename "$config" .json)"
  read -r -a role <"${config%.json}.role"
  token="$("${client[@]}" "$image" token --data-dir /keys --role "${role[@]}")"
  # the report's status counts must be exactly one OK (kaigo bench may exit 0 on errors)
  if ! KAIGO_TOKEN="$token" "${client[@]}" "$image" bench "/calls/$name.json" \
      --endpoint "http://127.0.0.1:$gateway" --total 1 --concurrency 1 --connections 1 --format json \
      >"$work/$name.out" 2>"$work/$name.err" \
    || ! python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r.get("statusCodeDistribution") != {"OK": 1})' \
      "$work/$name.out"; then
    cat "$work/$name.err" >&2
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r.get("statusCodeDistribution"), r.get("errorDistribution"))' \
      "$work/$name.out" >&2 || cat "$work/$name.out" >&2
    for c in "${components[@]}"; do echo "--- $c" >&2; podman_ logs "$(container_of "$c")" 2>&1 | tail -8 >&2; done
    die "call $name through the gateway pod failed"
  fi
  say "  ${name#??-} through the gateway pod: OK"
done

# 4. down; then a variable subsidies does not know makes its pod fail
down
adapt "$work/bad" --unknown-variable subsidies
configmaps="$(ls "$work"/bad/configmaps/*.yaml | paste -sd, -)"
played+=("$work/bad/subsidies.yaml")
podman_ kube play --quiet --configmap "$configmaps" "$work/bad/subsidies.yaml" >>"$work/play-bad.log" 2>&1
ctr="$(container_of subsidies)"
failed=""
for _ in $(seq 1 120); do
  if [[ "$(podman_ inspect --format '{{.State.ExitCode}}' "$ctr")" == 64 ]] \
     && podman_ logs "$ctr" 2>&1 | grep -q 'NO_SUCH_KEY\|no_such_key'; then
    failed=1; break
  fi
  sleep 0.5
done
[[ -n "$failed" ]] || { podman_ logs "$ctr" 2>&1 | tail -20 >&2; die "KAIGO_SUBSIDIES__NO_SUCH_KEY did not make the subsidies pod fail"; }
probe subsidies readinessProbe 2>/dev/null && die "the failing subsidies pod reports ready"
say "  KAIGO_SUBSIDIES__NO_SUCH_KEY: the subsidies pod fails (exit 64): $(podman_ logs "$ctr" 2>&1 | grep -i -m1 no_such_key | cut -c1-160)"
down
left="$(podman_ pod ps -q | wc -l)"
[[ "$left" == 0 ]] || die "podman kube down left $left pods"
say "pod test passed in $(( $(now) - start )) s"
