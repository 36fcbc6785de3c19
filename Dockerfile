# Production image of the auth service: `app-server` (the server, CMD) and
# `migrate` (run once before the replicas; docker-compose.yml's `migrate`).
#
#   docker build -t auth-service .
#   docker run --env-file .env -p 8000:8000 auth-service
#
# Build stage: the official Rust image (Debian bookworm) already has what the
# bundled C dependencies need: a C compiler for SQLite, libpq (pq-sys
# "bundled") and aws-lc, and libssl-dev, which the bundled libpq links against.
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# --locked: the committed Cargo.lock, nothing resolved afresh.
RUN cargo build --release --locked -p app-server -p migrate \
 && install -D -m 0755 target/release/app-server target/release/migrate -t /out/

# Runtime stage. The binaries link dynamically only against glibc, libgcc_s and
# OpenSSL 3 (the bundled libpq uses it for TLS to PostgreSQL: libssl3);
# ca-certificates lets libpq verify a server certificate (sslmode=verify-full).
# busybox serves the health check's HTTP GET (wget): a ~1 MB package, versus
# curl with its libcurl dependencies; no shell symlinks are installed for it.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 busybox \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 auth \
 && useradd --system --uid 10001 --gid auth --home-dir /app --no-create-home --shell /usr/sbin/nologin auth \
 && mkdir -p /app/data \
 && chown auth:auth /app/data
COPY --from=builder /out/app-server /out/migrate /usr/local/bin/

WORKDIR /app
# Production defaults; every other setting comes from the environment
# (docker-compose.yml reads .env). AUTH_ENV=production refuses a missing or
# weak AUTH_JWT_SECRET. AUTH_DATA_DIR only matters for an SQLite DATABASE_URL.
ENV AUTH_BIND=0.0.0.0:8000 \
    AUTH_ENV=production \
    AUTH_DATA_DIR=/app/data \
    RUST_LOG=info
USER auth:auth
EXPOSE 8000
# SIGTERM drains in-flight requests, then the server exits 0.
STOPSIGNAL SIGTERM
# Liveness only (/healthz does not touch the database). It assumes the
# default port: change it together with AUTH_BIND. No `-T`: Debian's busybox
# wget is built without it (and crashes on it); --timeout bounds the check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
  CMD ["busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
CMD ["app-server", "serve"]
