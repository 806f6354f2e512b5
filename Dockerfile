# Multi-stage build: compile with the Rust toolchain, ship a small Debian runtime with CA
# certificates and a non-root user.
#
#   docker build -t integration_exporter .
#   docker run -p 10115:10115 -v $PWD/config.yml:/etc/integration_exporter/config.yml:ro integration_exporter
#   docker run -p 10115:10115 integration_exporter demo     # no config needed
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests/fixtures ./tests/fixtures
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
