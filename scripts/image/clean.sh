#!/usr/bin/env bash
# make image-clean: removes every container, pod, secret and image the image scripts made, and
# their vfs storage (target/image/storage, target/image/run). Keeps the base tarball cache
# (target/image/base) and the SBOM. Touches nothing outside target/image/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if command -v podman >/dev/null && [[ -d "$IMAGE_DIR/storage" ]]; then
  podman_ pod rm -a -f -t 0 >/dev/null 2>&1 || true
  podman_ rm -a -f -t 0 >/dev/null 2>&1 || true
  podman_ secret rm --all >/dev/null 2>&1 || true
  podman_ volume rm -a -f >/dev/null 2>&1 || true
  podman_ rmi -a -f >/dev/null 2>&1 || true
fi
if command -v buildah >/dev/null && [[ -d "$IMAGE_DIR/storage" ]]; then
  buildah_ rm -a >/dev/null 2>&1 || true
fi
# vfs leaves no mounts, so the folders go with rm
rm -rf "${IMAGE_DIR:?}/storage" "${IMAGE_DIR:?}/run" "${IMAGE_DIR:?}/context" "${IMAGE_DIR:?}/kaigo-debug"
say "removed the images, containers, pods and storage under ${IMAGE_DIR#"$image_root"/}/ (the base cache stays)"
