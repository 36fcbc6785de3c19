# Production image of the auth service: `app-server` (the server, CMD) and
# `migrate` (run once before the replicas; docker-compose.yml's `migrate`).
#
#   docker build -t auth-service .
#   docker run --env-file .env -p 8000:8000 auth-service
#
# Works with the classic builder (docker-compose v1) and BuildKit alike: no
# `# syntax=` line (BuildKit would fetch that frontend from Docker Hub) and
# no RUN --mount; dependency builds are cached as a layer by cargo-chef.

# ---- Toolchain. Debian trixie with rustc and cargo from trixie-backports.
# Why Debian's: the toolchain must come from a source every build machine can
# reach. Our CI reaches Debian's archive and crates.io, but neither Docker
# Hub (the official `rust` images) nor a source it does not vouch for
# (rustup's download servers); Debian's packages are signed, and the same
# `apt-get` works behind any Debian mirror. Why backports: Cargo.lock needs
# rustc >= 1.95 (parking_lot 0.13, lock_api 0.5; actix-web 4.18 needs 1.89),
# which is Cargo.toml's rust-version; trixie itself ships 1.85, its backports
# follow stable Rust (1.97 when this was written). cargo refuses to build with
# a toolchain older than rust-version, so a stale one fails loudly.
FROM debian:trixie AS toolchain
RUN sed -i 's/^Suites: trixie trixie-updates$/& trixie-backports/' /etc/apt/sources.list.d/debian.sources \
 && grep -q '^Suites: .*trixie-backports' /etc/apt/sources.list.d/debian.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl-dev pkg-config busybox-static \
 && apt-get install -y --no-install-recommends -t trixie-backports rustc cargo \
 && rm -rf /var/lib/apt/lists/*
ENV CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# cargo-chef builds the dependencies from the manifests alone, so that that
# layer is reused until Cargo.lock or a Cargo.toml changes. --debug: it only
# reads manifests and runs cargo, and compiles in half the time.
RUN cargo install --debug --locked cargo-chef --version 0.1.78 \
 && rm -rf "$CARGO_HOME/registry"
WORKDIR /src

FROM toolchain AS planner
COPY . .
RUN cargo chef prepare --recipe-path /recipe.json

# ---- Build. The bundled C dependencies need a C compiler (gcc comes with
# Debian's rustc) for SQLite, libpq (pq-sys "bundled") and aws-lc, and
# libssl-dev, which the bundled libpq links against. .cargo/config.toml
# (LIBSQLITE3_FLAGS) is in place for both builds, so the second reuses the
# first's artefacts.
FROM toolchain AS builder
COPY .cargo .cargo
COPY --from=planner /recipe.json /recipe.json
RUN cargo chef cook --release --locked --recipe-path /recipe.json -p app-server -p migrate
COPY . .
# --locked: the committed Cargo.lock, nothing resolved afresh. -s: stripped
# (the symbol tables are a third of the size; panics still name the place).
RUN cargo build --release --locked -p app-server -p migrate \
 && install -D -s -m 0755 target/release/app-server target/release/migrate -t /rootfs/usr/local/bin/

# ---- Runtime file system, assembled here and copied into an empty image:
# the two binaries, the shared libraries they link (glibc, libgcc_s and
# OpenSSL 3, which the bundled libpq uses for TLS to PostgreSQL), the CA
# bundle (for sslmode=verify-full: the OpenSSL default paths point at it), a
# static busybox for the health check's HTTP GET, and the users. No shell, no
# package manager: about a third of debian:trixie-slim.
FROM toolchain AS rootfs
COPY --from=builder /rootfs/ /rootfs/
RUN set -e; cd /rootfs \
 && for lib in $(ldd usr/local/bin/app-server usr/local/bin/migrate | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do \
      cp -L --parents "$lib" .; \
    done \
 && install -D -m 0755 /bin/busybox usr/bin/busybox \
 && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/ca-certificates.crt \
 && mkdir -p usr/lib/ssl \
 && ln -s /etc/ssl/certs usr/lib/ssl/certs \
 && ln -s /etc/ssl/certs/ca-certificates.crt usr/lib/ssl/cert.pem \
 && printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nauth:x:10001:10001:auth service:/app:/usr/sbin/nologin\n' >etc/passwd \
 && printf 'root:x:0:\nauth:x:10001:\n' >etc/group \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' >etc/nsswitch.conf \
 && mkdir -p -m 1777 tmp \
 && mkdir -p app/data \
 && chown 10001:10001 app/data \
 && chroot /rootfs /usr/local/bin/app-server --version \
 && chroot /rootfs /usr/local/bin/migrate --version

FROM scratch
COPY --from=rootfs /rootfs/ /
WORKDIR /app
# Production defaults; every other setting comes from the environment
# (docker-compose.yml reads .env). AUTH_ENV=production refuses a missing or
# weak AUTH_JWT_SECRET. AUTH_DATA_DIR only matters for an SQLite DATABASE_URL.
ENV PATH=/usr/local/bin:/usr/bin \
    AUTH_BIND=0.0.0.0:8000 \
    AUTH_ENV=production \
    AUTH_DATA_DIR=/app/data \
    RUST_LOG=info
# The unprivileged user `auth`, by number (valid without /etc/passwd too).
USER 10001:10001
EXPOSE 8000
# SIGTERM drains in-flight requests, then the server exits 0.
STOPSIGNAL SIGTERM
# Liveness only (/healthz does not touch the database). It assumes the
# default port: change it together with AUTH_BIND. No `-T`: Debian's busybox
# wget is built without it; the health check's own timeout bounds it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
  CMD ["busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/healthz"]
CMD ["app-server", "serve"]
