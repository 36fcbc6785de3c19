# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# settings.sh — the local stack's knobs (STACK_*), where its state lives, and
# the environment a stack started from here must not inherit. Sourced, never
# run.
#
# State lives in STACK_DIR (default /tmp/auth-stack):
#   stack.env          the settings the stack was started with (ctl and down
#                      read them, so later calls need no environment)
#   app.env            AUTH_* / RUST_LOG passed through at stack-up, reused
#                      when a replica is restarted
#   jwt-secret         AUTH_JWT_SECRET shared by every replica (0600)
#   db-password        password of the `auth` PostgreSQL role (0600)
#   run/*.pid          "PID STARTTIME" of each process the stack started
#   logs/              app-N.log, migrate.log, nginx-access.log, nginx-error.log
#   pg/                the PostgreSQL cluster (scripts/pg-cluster.sh)
#   nginx/             nginx prefix: conf/ (rendered copy of nginx/), nginx.pid,
#                      *_temp/ (nginx's temp directories)
#   data/              AUTH_DATA_DIR of the replicas
[ -z "${_STACK_LIB_SETTINGS:-}" ] || return 0
_STACK_LIB_SETTINGS=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# stack_scrub_env [KEEP-PATTERN...]: unset what of the caller's environment
# would leak into a stack started from here: STACK_* (they point at the
# caller's own stack), AUTH_* and RUST_LOG (saved into the replicas'
# settings), DATABASE_URL, and NGINX (nginx takes it as a list of inherited
# sockets). The names given as arguments (glob patterns) are kept.
stack_scrub_env() {
  local v keep
  for v in $(compgen -e); do
    for keep in "$@"; do
      # shellcheck disable=SC2053  # $keep is a glob pattern on purpose
      [[ $v == $keep ]] && continue 2
    done
    case $v in STACK_*|AUTH_*|DATABASE_URL|RUST_LOG|NGINX) unset "$v" ;; esac
  done
}

# stack_dir_init: STACK_DIR from the environment or its default, absolute and
# without a trailing slash; the paths under it.
stack_dir_init() {
  STACK_DIR=${STACK_DIR:-/tmp/auth-stack}
  case $STACK_DIR in /*) ;; *) STACK_DIR=$PWD/$STACK_DIR ;; esac
  STACK_DIR=${STACK_DIR%/}
  [ -n "$STACK_DIR" ] || die "STACK_DIR must not be /"
  stack_paths
}

# stack_defaults: fill every knob from the environment or its default.
stack_defaults() {
  stack_dir_init
  STACK_PORT=${STACK_PORT:-8080}
  STACK_REPLICAS=${STACK_REPLICAS:-2}
  STACK_APP_PORT_BASE=${STACK_APP_PORT_BASE:-18000}
  # Not pg-cluster.sh's default 55432, which the test suites use.
  STACK_PG_PORT=${STACK_PG_PORT:-55440}
  STACK_WAIT=${STACK_WAIT:-60}
  STACK_STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-30}
  STACK_BIN_DIR=${STACK_BIN_DIR:-$STACK_ROOT/target/release}
  case $STACK_BIN_DIR in /*) ;; *) STACK_BIN_DIR=$PWD/$STACK_BIN_DIR ;; esac
  local v
  for v in STACK_PORT STACK_REPLICAS STACK_APP_PORT_BASE STACK_PG_PORT STACK_WAIT STACK_STOP_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
  done
  [ "$STACK_REPLICAS" -ge 1 ] || die "STACK_REPLICAS must be at least 1"
}

# stack_paths: the paths under STACK_DIR, for the other files of lib/.
# shellcheck disable=SC2034
stack_paths() {
  RUN_DIR=$STACK_DIR/run
  LOG_DIR=$STACK_DIR/logs
  PG_DIR=$STACK_DIR/pg
  NGINX_PREFIX=$STACK_DIR/nginx
  NGINX_CONF=$NGINX_PREFIX/conf/nginx.conf
  STATE_FILE=$STACK_DIR/stack.env
  APP_ENV_FILE=$STACK_DIR/app.env
  DRAIN_FILE=$RUN_DIR/nginx-drained
}

# stack_save: record the settings of a stack being started.
stack_save() {
  local v
  {
    echo "# written by scripts/stack-up.sh; read by stack-ctl.sh and stack-down.sh"
    for v in STACK_DIR STACK_PORT STACK_REPLICAS STACK_APP_PORT_BASE STACK_PG_PORT \
             STACK_WAIT STACK_STOP_TIMEOUT STACK_BIN_DIR APP_BIN MIGRATE_BIN NGINX_BIN \
             DATABASE_URL PG_SUPERUSER_URL; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$STATE_FILE.tmp"
  chmod 600 "$STATE_FILE.tmp"
  mv "$STATE_FILE.tmp" "$STATE_FILE"
}

# stack_load: the settings of an existing stack (STACK_DIR from the environment
# or its default). Returns 1 when there is no stack there.
stack_load() {
  stack_dir_init
  [ -f "$STATE_FILE" ] || return 1
  # shellcheck source=/dev/null
  . "$STATE_FILE"
  stack_paths
}

replica_port() { echo $((STACK_APP_PORT_BASE + $1)); }
replica_pidfile() { echo "$RUN_DIR/app-$1.pid"; }
nginx_pidfile() { echo "$RUN_DIR/nginx.pid"; }
stack_url() { echo "http://127.0.0.1:$STACK_PORT"; }

# stack_test_down FAILED: a test script's end of its stack in STACK_DIR. A
# passed run (FAILED=0) stops it and purges STACK_DIR; a failed one stops it
# and keeps STACK_DIR (logs, database) to look at. A stack that never started
# leaves only its directory, removed after a passed run. Returns non-zero when
# stack-down failed on a passed run (the run then fails).
stack_test_down() {
  if [ -f "$STACK_DIR/stack.env" ]; then
    if [ "$1" = 0 ]; then
      scripts/stack-down.sh --purge >/dev/null 2>&1 || { echo "stack-down failed" >&2; return 1; }
    else
      scripts/stack-down.sh >/dev/null 2>&1 || echo "stack-down failed" >&2
    fi
  elif [ "$1" = 0 ]; then
    rm -rf "$STACK_DIR"
  fi
}
