# syntax=docker/dockerfile:1.7
#
# One image for every kaigo component. The chart and k8s/ run it as
#   kaigo serve <gateway|eligibility|certification|documents|careplan|subsidies>
#   kaigo migrate            (Helm pre-install/pre-upgrade hook Job)
#   kaigo health --endpoint http://HOST:50051 [--service NAME]   (helm test)
#
# Build:  docker build -t ghcr.io/kaigo/kaigo:$(git describe --tags --always) .
# (BuildKit is required for the cache mounts; it is the default builder since Docker 23.)
# Without Docker or a registry, `make image` builds the same final stage from the host's release
# binary on a Debian base made with mmdebstrap (scripts/image/Containerfile; scripts/image/
# check-dockerfile.py keeps the two in step).

ARG RUST_IMAGE=rust:1-bookworm
ARG NODE_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------------
# The web screens (web/dist): static files the gateway serves when
# KAIGO_GATEWAY__WEB__ROOT=/usr/share/kaigo/web (the chart sets it for the gateway).
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY proto proto
COPY tools/buf tools/buf
COPY web web
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    cd tools/buf && npm ci --no-audit --no-fund \
 && cd ../../web && npm ci --no-audit --no-fund && npm run build

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder

# No system packages needed: proto/build.rs compiles .proto files with protox (pure Rust), so
# no protoc. Keep TLS on rustls: the runtime image has no libssl to link against.
WORKDIR /src
COPY . .

# The registry, git checkouts and target/ live in BuildKit cache mounts, so a rebuild after a
# source change recompiles only what changed. target/ is a cache mount and is not part of the
# layer, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p kaigo \
 && install -D -m 0755 target/release/kaigo /out/kaigo

# ---------------------------------------------------------------------------------------------
# distroless/cc: glibc, libgcc, CA certificates and tzdata; no shell, no package manager.
# The :nonroot tag's user is 65532:65532, which the chart's securityContext also pins.
FROM ${RUNTIME_IMAGE}

# docker build --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) .
ARG VERSION=0.0.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kaigo" \
      org.opencontainers.image.description="Long-Term Care Information Platform (介護情報基盤): gateway and services in one binary" \
      org.opencontainers.image.source="https://github.com/kaigo/kaigo" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/kaigo /usr/local/bin/kaigo
COPY --from=web /src/web/dist /usr/share/kaigo/web

USER 65532:65532
# gRPC (h2c), gRPC-Web and the screens (HTTP/1.1, gateway) and grpc.health.v1 on one port. The process writes only to /tmp: run it with a
# read-only root filesystem and a tmpfs/emptyDir on /tmp.
ENV KAIGO_SERVER__LISTEN=0.0.0.0:50051
EXPOSE 50051

# For plain `docker run`/compose; Kubernetes ignores it and uses the chart's native gRPC probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/kaigo", "health", "--endpoint", "http://127.0.0.1:50051"]

ENTRYPOINT ["/usr/local/bin/kaigo"]
