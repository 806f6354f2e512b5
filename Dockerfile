# Multi-stage build: compile with the Rust toolchain, ship a small Debian runtime with CA
# certificates and a non-root user. No image is published; build it yourself (README, "Container
# image"):
#
#   docker build -t integration_exporter:dev \
#     --build-arg GIT_REVISION=$(git rev-parse HEAD) --build-arg GIT_BRANCH=$(git rev-parse --abbrev-ref HEAD) .
#   docker run -p 10115:10115 -v $PWD/config.yml:/etc/integration_exporter/config.yml:ro integration_exporter:dev
#   docker run -p 10115:10115 integration_exporter:dev demo     # no config needed
#
# tests/e2e_dockerfile.rs rebuilds the build stage's context from the COPY lines below and runs
# the same cargo command in it: every file the manifest needs (build.rs, the [[bench]] targets,
# the [[test]] target declared with its own harness, the fixtures the demo embeds) must be
# copied here.
FROM rust:1-slim-bookworm AS build
# .git is not in the build context (.dockerignore); build.rs takes the revision from these.
ARG GIT_REVISION=unknown
ARG GIT_BRANCH=unknown
ENV GIT_REVISION=${GIT_REVISION} GIT_BRANCH=${GIT_BRANCH}
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
COPY tests/fixtures ./tests/fixtures
COPY tests/provider_scenarios.rs ./tests/provider_scenarios.rs
RUN cargo build --release --locked && cp target/release/integration_exporter /integration_exporter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10115 --no-create-home --shell /usr/sbin/nologin exporter \
 && mkdir -p /etc/integration_exporter
COPY --from=build /integration_exporter /usr/local/bin/integration_exporter
COPY config.example.yaml /etc/integration_exporter/config.example.yaml
USER exporter
EXPOSE 10115
ENTRYPOINT ["/usr/local/bin/integration_exporter", "--config.file=/etc/integration_exporter/config.yml"]
