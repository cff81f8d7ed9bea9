#!/usr/bin/env bash
# Installs what `make image-test` needs from Debian when missing (CI; .ci/run calls this):
# podman, buildah, runc, mmdebstrap (and uidmap, which podman wants); and promtool (package
# prometheus), with which `make chart-check` checks and unit-tests the chart's alert rules.
# Needs root and apt-get; says so and succeeds otherwise (make image-test then skips, saying
# what is missing; make chart-check fails, naming promtool).
set -euo pipefail
need=()
for tool in podman buildah runc mmdebstrap promtool; do command -v "$tool" >/dev/null || need+=("$tool"); done
(( ${#need[@]} )) || exit 0
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "install-tools: ${need[*]} missing and cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
echo "install-tools: installing ${need[*]} from Debian"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  podman buildah runc mmdebstrap uidmap >/dev/null
# promtool only: the server that comes with it is not started (no init system in CI).
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
