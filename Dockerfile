# syntax=docker/dockerfile:1
# wetix-operator image: built on Debian bookworm, run on distroless (glibc, no shell).
#   docker build -t wetix-operator:latest .

FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit), so a source change
# recompiles the operator, not its dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p wetix-operator \
    && install -D -m 0755 target/release/wetix-operator /out/wetix-operator

FROM gcr.io/distroless/cc-debian12:nonroot
# Where the source lives; CI passes the repository URL (--build-arg SOURCE_URL=...).
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="wetix-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps WeTix OAuth tokens fresh in Secrets" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/wetix-operator /wetix-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/wetix-operator"]
CMD ["run"]
