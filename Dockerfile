# workato-connector: the gRPC server and its CLI on Debian 12.
#
#   docker build -t workato-connector .      (or: buildah bud, see scripts/container-test.sh)
#   docker run -p 50051:50051 -p 9090:9090 -v wc-data:/data \
#     -v "$PWD/callers.txt:/etc/workato-connector/callers.txt:ro" \
#     -e WORKATO_CONNECTOR_CALLER_TOKENS_FILE=/etc/workato-connector/callers.txt \
#     workato-connector
#
# The server listens on 0.0.0.0:50051, and refuses to serve a non-loopback
# address without caller tokens or TLS (or --allow_insecure): give them as
# flags after the image name or as WORKATO_CONNECTOR_<FLAG> variables.
#
# Two stages, after GoogleCloudPlatform/cpp-samples: the build stage installs
# the toolchain and -dev packages in a layer of its own (it changes only when
# scripts/install-deps.sh does), then compiles; the runtime stage holds only
# the shared libraries the two binaries link, CA certificates and the stripped
# binaries, and runs as an unprivileged user.

FROM debian:bookworm AS build

# Dependencies first, so that editing the source does not reinstall them.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . /src
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWC_BUILD_TESTS=OFF \
 && ninja -C /build workato-connector-server workato-connector-cli \
 && strip /build/server/workato-connector-server /build/client/workato-connector-cli

FROM debian:bookworm-slim

# Runtime libraries only: what `ldd` shows the binaries need (their own
# dependencies, e.g. libre2-9 and libc-ares2, come with them), and CA
# certificates for TLS to Workato. prometheus-cpp serves /metrics.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libcurl4 \
      libgrpc++1.51 \
      libgrpc29 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libprotobuf32 \
      libsimdjson14 \
      libsqlite3-0 \
      libssl3 \
 && rm -rf /var/lib/apt/lists/*

# An unprivileged user owning /data, where the SQLite store and the generated
# token key live. Ownership is set before VOLUME so that it is kept.
RUN groupadd --gid 10001 connector \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin connector \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data

COPY --from=build /build/server/workato-connector-server /usr/local/bin/workato-connector-server
COPY --from=build /build/client/workato-connector-cli /usr/local/bin/workato-connector-cli

VOLUME /data
WORKDIR /data
# 50051: gRPC (with grpc.health.v1). 9090: Prometheus /metrics.
EXPOSE 50051 9090
USER 10001
ENTRYPOINT ["/usr/local/bin/workato-connector-server"]
CMD ["--store=sqlite:/data/connector.db"]
