# syntax=docker/dockerfile:1
# The `smart-connect-sim` image for fleet runs (docs/fleet.md, deploy/kubernetes/).
#
#   docker build -t smart-connect-sim .
#   docker run --rm smart-connect-sim fleet --devices 1000 --mqtt mqtts://broker:8883 --pki /pki
#
# Stage 1 builds the release binary (no `defects` feature: the image has no planted firmware
# bugs). BuildKit cache mounts keep the crates.io downloads and the target directory between
# builds, so a source change rebuilds only this crate; the binary is copied out of the cached
# target directory because a cache mount is not part of the layer.
# Stage 2 is Debian slim with the binary and ca-certificates (reqwest's platform verifier
# reads the system store; the fleet's own CAs come from files given on the command line).
# Everything else the device needs (web assets, feature files, schemas) is compiled in.

ARG RUST_VERSION=1
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin smart-connect-sim \
    && install -D -m 0755 target/release/smart-connect-sim /out/smart-connect-sim

FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sim
COPY --from=build /out/smart-connect-sim /usr/local/bin/smart-connect-sim
# Numeric so that Kubernetes' runAsNonRoot can check it without resolving a name.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["smart-connect-sim"]
CMD ["--help"]
