#!/usr/bin/env bash
# make image: the production image, built here without a Docker engine or a registry.
#
#   bash scripts/image/build.sh          (make image; the release binary must exist, see below)
#
# 1. the runtime base from Debian packages (scripts/image/base.sh; cached under target/image/base)
# 2. the release binary $KAIGO_BINARY (the Makefile builds it: cargo build --release -p kaigo
#    --target-dir $IMAGE_TARGET_DIR) and web/dist (make web when missing)
# 3. the SBOM (scripts/image/sbom.py) -> target/image/kaigo-<version>.cdx.json, also in the image
# 4. buildah bud -f scripts/image/Containerfile on a context holding only those files
#
# Prints the image's size and fails when it exceeds IMAGE_MAX_MB (120) uncompressed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$image_root"

command -v buildah >/dev/null || die "buildah is not installed (apt-get install podman buildah runc mmdebstrap)"
binary="${KAIGO_BINARY:-${IMAGE_TARGET_DIR:-target/image-build}/release/kaigo}"
[[ -x "$binary" ]] || die "no release binary at $binary (make image builds it)"
max_mb="${IMAGE_MAX_MB:-120}"

start=$(now)
base="$(bash scripts/image/base.sh)"
base_hash="${base##*:}"
base_done=$(now)

if [[ ! -f web/dist/index.html ]]; then
  say "web/dist is missing: make web"
  make web
fi

version="$("$binary" --version | awk '{ print $NF }')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  say "note: the working tree has uncommitted changes; the revision label names HEAD ($revision)"
fi

context="$IMAGE_DIR/context"
rm -rf "$context"
mkdir -p "$context"
install -m 0755 "$binary" "$context/kaigo"
cp -r web/dist "$context/web"
chmod -R a+rX,go-w "$context/web"
sbom="$IMAGE_DIR/kaigo-$version.cdx.json"
python3 scripts/image/sbom.py --version "$version" --deb "$IMAGE_DIR/base/runtime-$base_hash.packages" \
  >"$sbom" 2>"$context.sbom.log" || { cat "$context.sbom.log" >&2; die "the SBOM failed"; }
install -m 0644 "$sbom" "$context/sbom.cdx.json"

image="$IMAGE_NAME:$IMAGE_TAG"
buildah_ bud --quiet --isolation chroot --format oci --layers=false \
  -f scripts/image/Containerfile \
  --build-arg BASE="$base" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -t "$image" -t "$IMAGE_NAME:$version" "$context" >/dev/null
rm -rf "$context"
done_=$(now)

bytes="$(podman_ image inspect --format '{{.Size}}' "$image")"
mb=$(( (bytes + 524287) / 1048576 ))
{
  echo "image: $image ($IMAGE_NAME:$version), $mb MiB uncompressed (limit $max_mb MiB)"
  echo "image: base $base ($(( base_done - start )) s), image build $(( done_ - base_done )) s"
  echo "image: SBOM ${sbom#"$image_root"/} ($(sed 's/^sbom: //' "$context.sbom.log"))"
} | tee "$IMAGE_DIR/build.txt"
rm -f "$context.sbom.log"
(( mb <= max_mb )) || die "the image is $mb MiB, over the $max_mb MiB budget"
