# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# replicas.sh — the app-server replicas: the environment they run with (and
# one-off commands with it: migrate, create-user), start one on its port and
# wait for /healthz, stop one gracefully. Reads the settings of settings.sh
# and APP_BIN. Sourced, never run.
[ -z "${_STACK_LIB_REPLICAS:-}" ] || return 0
_STACK_LIB_REPLICAS=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
# shellcheck source=net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"
# shellcheck source=settings.sh
. "$(dirname "${BASH_SOURCE[0]}")/settings.sh"

# save_app_env: keep the caller's AUTH_* and RUST_LOG (NUL-separated, values
# may hold anything) so that every replica, including one restarted later by
# stack-ctl.sh from another environment, runs with the same settings.
save_app_env() {
  env -0 | grep -z -E '^(AUTH_[A-Z0-9_]*|RUST_LOG)=' >"$APP_ENV_FILE.tmp" || true
  chmod 600 "$APP_ENV_FILE.tmp"
  mv "$APP_ENV_FILE.tmp" "$APP_ENV_FILE"
}

# app_env_export [BIND]: turn the current shell (always a subshell) into a
# replica's environment: the caller's AUTH_*, DATABASE_URL, RUST_LOG and NGINX
# dropped, the saved AUTH_* / RUST_LOG put back, then the stack's fixed
# settings on top. Exported, never passed as arguments: a command line (and
# so the secret and the database password in it) is readable by every user.
app_env_export() {
  local v kv db_url=$DATABASE_URL secret
  secret=$(cat "$STACK_DIR/jwt-secret")
  for v in $(compgen -e); do
    case $v in AUTH_*|DATABASE_URL|RUST_LOG|NGINX) unset "$v" ;; esac
  done
  if [ -f "$APP_ENV_FILE" ]; then
    while IFS= read -r -d '' kv; do
      export "${kv%%=*}=${kv#*=}"
    done <"$APP_ENV_FILE"
  fi
  export DATABASE_URL="$db_url" AUTH_ENV=production AUTH_TRUSTED_PROXIES=127.0.0.1
  export AUTH_DATA_DIR="$STACK_DIR/data" AUTH_JWT_SECRET="$secret"
  if [ -n "${1:-}" ]; then
    export AUTH_BIND="$1"
  fi
}

# run_with_app_env CMD...: a one-off command (migrate, app-server create-user)
# in the foreground with a replica's environment. The working directory holds
# no .env: the app honours one there, and the repository's (development
# settings) must not leak into the stack.
run_with_app_env() {
  (app_env_export && cd "$RUN_DIR" && exec "$@")
}

# start_replica N: start replica N on its port unless it runs; wait until it
# answers /healthz (readiness needs the database, which may be stopped on
# purpose by a test).
start_replica() {
  local n=$1 port pidfile log pid deadline code
  port=$(replica_port "$n")
  pidfile=$(replica_pidfile "$n")
  log=$LOG_DIR/app-$n.log
  if pid=$(pid_of_ours "$pidfile" "$APP_BIN"); then
    info "app-$n: already running (pid $pid, 127.0.0.1:$port)"
    return 0
  fi
  if port_busy "$port"; then
    die "app-$n: port 127.0.0.1:$port is taken by another program (set STACK_APP_PORT_BASE)"
  fi
  echo "==== $(date -u +%FT%TZ) stack: starting app-$n on 127.0.0.1:$port" >>"$log"
  (app_env_export "127.0.0.1:$port" && spawn "$pidfile" "$log" "$log" "$APP_BIN" serve) || true
  deadline=$((SECONDS + STACK_WAIT))
  while :; do
    if ! pid=$(pid_alive "$pidfile"); then
      tail_log "$log"
      die "app-$n exited during start (log: $log)"
    fi
    code=$(http_code "http://127.0.0.1:$port/healthz" 2)
    [ "$code" = 200 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail_log "$log"
      die "app-$n (pid $pid) did not answer /healthz on 127.0.0.1:$port within ${STACK_WAIT}s"
    fi
    sleep 0.2
  done
  info "app-$n: running (pid $pid, 127.0.0.1:$port)"
}

# stop_replica N: SIGTERM drains in-flight requests; the timeout covers
# nginx's 30 s read timeout. Take it out of nginx first (drain_replica in
# nginx.sh) when the stack keeps serving.
stop_replica() {
  stop_pidfile "app-$1" "$(replica_pidfile "$1")" "$APP_BIN" TERM "$STACK_STOP_TIMEOUT"
}
