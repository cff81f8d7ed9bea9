#!/usr/bin/env bash
# make image-test: the image built here (make image), run (scripts/image/run-test.sh) and the
# manifests run as pods (scripts/image/pod-test.sh: k8s/overlays/dev, then the chart rendered
# with charts/kaigo/ci/minimal-values.yaml), then everything removed (make image-clean).
# Without podman, buildah, runc or mmdebstrap it says what it skips and succeeds: install them
# with `apt-get install podman buildah runc mmdebstrap` (.ci/run does) to run it.
#
#   bash scripts/image/test.sh           the release image (make image-test: a release build first)
#   bash scripts/image/test.sh debug     the same image and checks on the debug binary `make unit`
#                                        built (make test: no second build; no size budget)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$image_root"

missing=()
for tool in podman buildah runc mmdebstrap kubectl redis-server psql openssl curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [[ $(id -u) != 0 ]]; then
  missing+=("root (mmdebstrap and podman run here as root, with their own storage under target/image/)")
fi
if (( ${#missing[@]} )); then
  echo "image-test: SKIPPED the image build, the image run test and the pod test; missing: ${missing[*]}"
  echo "image-test: (apt-get install podman buildah runc mmdebstrap; .ci/run installs them)"
  exit 0
fi
# One image test at a time on a machine: they share target/image/ (image tags, pod names) and
# each ends by removing everything there.
mkdir -p "$IMAGE_DIR"
exec 9>"$IMAGE_DIR/test.lock"
if ! flock -n 9; then
  echo "image-test: another image test runs in this checkout; waiting for it"
  flock 9
fi
start=$(now)
trap 'bash scripts/image/clean.sh' EXIT
if [[ "${1:-release}" == debug ]]; then
  debug="${CARGO_TARGET_DIR:-target}/debug/kaigo"
  [[ -x "$debug" ]] || cargo build -p kaigo
  # without its debug info: vfs copies the image into every container
  cp "$debug" "$IMAGE_DIR/kaigo-debug"
  strip --strip-debug "$IMAGE_DIR/kaigo-debug" 2>/dev/null || true
  export KAIGO_BINARY="$IMAGE_DIR/kaigo-debug" IMAGE_MAX_MB="${IMAGE_MAX_MB:-1024}"
  echo "image-test: the image from the debug binary ($debug); the release image: make image-test"
fi
make --no-print-directory image
built=$(now)
bash scripts/image/run-test.sh
ran=$(now)
bash scripts/image/pod-test.sh
podded=$(now)
# the chart itself, rendered with its minimal profile (Helm's engine from chart-check's virtualenv)
chart=""
if [[ -x .tools/chart-venv/bin/python ]]; then
  bash scripts/image/render-chart.sh charts/kaigo/ci/minimal-values.yaml >"$IMAGE_DIR/chart-minimal.yaml"
  POD_TEST_MANIFESTS="$IMAGE_DIR/chart-minimal.yaml" bash scripts/image/pod-test.sh
  rm -f "$IMAGE_DIR/chart-minimal.yaml"
  chart=", chart pod test $(( $(now) - podded )) s"
else
  echo "image-test: SKIPPED the pod test of the chart itself: no .tools/chart-venv (make chart-check makes it)"
fi
echo "image-test: image $(( built - start )) s (with the release build, if any), run test $(( ran - built )) s, pod test $(( podded - ran )) s$chart"
