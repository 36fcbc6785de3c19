#!/usr/bin/env bash
# stack-up.sh — the production topology on one machine, without Docker:
# PostgreSQL on loopback, `migrate`, STACK_REPLICAS app-server replicas on
# 127.0.0.1:STACK_APP_PORT_BASE+N, nginx (nginx/nginx.conf) on
# 127.0.0.1:STACK_PORT in front of them.
#
#   scripts/stack-up.sh            start (or complete) the stack; prints its URL
#   scripts/stack-ctl.sh ...       status, restart a replica, stop the database...
#   scripts/stack-down.sh          stop everything it started
#
# Knobs (environment):
#   STACK_DIR            state, logs, database (default /tmp/auth-stack)
#   STACK_PORT           nginx port on 127.0.0.1 (default 8080)
#   STACK_REPLICAS       number of app-server replicas (default 2)
#   STACK_APP_PORT_BASE  replica N listens on BASE+N (default 18000: 18001, 18002...)
#   STACK_PG_PORT        PostgreSQL port (default 55440)
#   STACK_BIN_DIR        where app-server and migrate are (default target/release,
#                        built with cargo when missing; target/debug is built too;
#                        any other directory must already hold both)
#   STACK_WAIT           seconds to wait for readiness (default 60)
#   STACK_STOP_TIMEOUT   seconds a replica gets to drain on SIGTERM (default 30)
#   STACK_KEEP_ON_FAILURE=1  leave the processes running when start-up fails
#   AUTH_*, RUST_LOG     passed to the replicas (e.g. AUTH_BCRYPT_COST=10), except
#                        the ones the stack sets itself: AUTH_ENV=production,
#                        AUTH_BIND, AUTH_JWT_SECRET (64 random bytes, kept in
#                        STACK_DIR/jwt-secret, the same for every replica),
#                        AUTH_TRUSTED_PROXIES=127.0.0.1, AUTH_DATA_DIR, DATABASE_URL.
#
# Idempotent: when the stack in STACK_DIR already runs, the settings it was
# started with are reused (a conflicting explicit setting is refused) and only
# what is missing is started. stdout carries only the URL; progress goes to
# stderr.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"

case ${1:-} in
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

# Settings given explicitly for this call, to check them against a running stack.
explicit=()
for v in STACK_PORT STACK_REPLICAS STACK_APP_PORT_BASE STACK_PG_PORT STACK_BIN_DIR; do
  if [ -n "${!v:-}" ]; then explicit+=("$v"); fi
done
declare -A wanted=()
for v in "${explicit[@]}"; do wanted[$v]=${!v}; done

reuse=0
if (stack_load && stack_any_running); then
  stack_load
  for v in "${explicit[@]}"; do
    want=${wanted[$v]}
    if [ "$v" = STACK_BIN_DIR ]; then
      case $want in /*) ;; *) want=$PWD/$want ;; esac
    fi
    [ "$want" = "${!v}" ] \
      || die "the stack in $STACK_DIR already runs with $v=${!v} (asked: $want); run scripts/stack-down.sh first"
  done
  reuse=1
  info "a stack already runs in $STACK_DIR: reusing its settings and starting what is missing"
else
  stack_defaults
fi

# Ports first, before anything starts: fail fast with a clear message rather
# than half-way with a bind error in a log.
if [ "$reuse" = 0 ]; then
  port_busy "$STACK_PORT" && die "port 127.0.0.1:$STACK_PORT is taken by another program (set STACK_PORT)"
  for n in $(seq 1 "$STACK_REPLICAS"); do
    p=$(replica_port "$n")
    port_busy "$p" && die "port 127.0.0.1:$p (replica $n) is taken by another program (set STACK_APP_PORT_BASE)"
  done
  port_busy "$STACK_PG_PORT" && die "port 127.0.0.1:$STACK_PG_PORT is taken by another program (set STACK_PG_PORT)"
fi

# On failure, stop what runs so that a half-started stack does not linger
# (unless asked to keep it for debugging, or it was running before this call).
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ "$reuse" = 0 ] && [ "${STACK_KEEP_ON_FAILURE:-0}" != 1 ] && [ -d "${RUN_DIR:-}" ]; then
    info "start-up failed: stopping what was started (STACK_KEEP_ON_FAILURE=1 keeps it)"
    stack_stop_all || true
  fi
  exit "$rc"
}
trap on_exit EXIT

# ---- programs
ensure_nginx
APP_BIN=$STACK_BIN_DIR/app-server
MIGRATE_BIN=$STACK_BIN_DIR/migrate
if [ ! -x "$APP_BIN" ] || [ ! -x "$MIGRATE_BIN" ]; then
  case $STACK_BIN_DIR in
    "$STACK_ROOT/target/release") profile=(--release) ;;
    "$STACK_ROOT/target/debug") profile=() ;;
    *) die "no app-server and migrate in STACK_BIN_DIR=$STACK_BIN_DIR" ;;
  esac
  command -v cargo >/dev/null 2>&1 || die "app-server/migrate are not built and cargo is not installed"
  info "building app-server and migrate (cargo build ${profile[*]:-})"
  (cd "$STACK_ROOT" && cargo build "${profile[@]}" -p app-server -p migrate) >&2 \
    || die "cargo build failed"
fi
APP_BIN=$(readlink -f "$APP_BIN")
MIGRATE_BIN=$(readlink -f "$MIGRATE_BIN")

# ---- state directory and secrets
if [ ! -d "$STACK_DIR" ]; then
  mkdir -p "$STACK_DIR"
  # The postgres system user (when run as root) and nginx's unprivileged
  # workers must be able to enter it; secrets are protected file by file.
  chmod 755 "$STACK_DIR"
fi
mkdir -p "$RUN_DIR" "$LOG_DIR" "$STACK_DIR/data"
if [ ! -s "$STACK_DIR/jwt-secret" ]; then
  # 64 random bytes, base64url (86 characters): the app uses the variable's
  # literal UTF-8 bytes, and production refuses short secrets. Kept across
  # restarts so that issued tokens stay valid.
  (umask 077 && head -c 64 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=' >"$STACK_DIR/jwt-secret")
fi

# ---- database
start_db
db_setup
[ "$reuse" = 1 ] || save_app_env
stack_save
info "PostgreSQL: postgres://auth:***@127.0.0.1:$STACK_PG_PORT/auth (data in $PG_DIR)"

# Production refuses to start with pending migrations: migrate before any replica.
{ echo "==== $(date -u +%FT%TZ) stack: migrate"; } >>"$LOG_DIR/migrate.log"
run_with_app_env "$MIGRATE_BIN" >>"$LOG_DIR/migrate.log" 2>&1 \
  || { tail_log "$LOG_DIR/migrate.log"; die "migrate failed (log: $LOG_DIR/migrate.log)"; }
info "migrations applied"

# ---- replicas, then nginx
for n in $(seq 1 "$STACK_REPLICAS"); do
  start_replica "$n"
done
# Every replica runs now: none stays out of nginx (stack-ctl.sh stop-replica).
rm -f "$DRAIN_FILE"
render_nginx
start_nginx

url=$(stack_url)
deadline=$((SECONDS + STACK_WAIT))
until [ "$(http_code "$url/readyz" 3)" = 200 ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    tail_log "$LOG_DIR/nginx-error.log"
    for n in $(seq 1 "$STACK_REPLICAS"); do tail_log "$LOG_DIR/app-$n.log" 10; done
    die "$url/readyz did not answer 200 within ${STACK_WAIT}s"
  fi
  sleep 0.3
done

last_port=$(replica_port "$STACK_REPLICAS")
cat >&2 <<EOF
stack: up at $url
  replicas:  $STACK_REPLICAS on 127.0.0.1:$(replica_port 1)..$last_port ($APP_BIN)
  database:  postgres://auth:***@127.0.0.1:$STACK_PG_PORT/auth
  logs:      $LOG_DIR
  control:   scripts/stack-ctl.sh status | restart-replica N | stop-db | start-db | --help
  stop:      scripts/stack-down.sh$( [ "$STACK_DIR" = /tmp/auth-stack ] || printf ' (with STACK_DIR=%s)' "$STACK_DIR")
EOF
echo "$url"
