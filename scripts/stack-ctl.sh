#!/usr/bin/env bash
# stack-ctl.sh — control pieces of the running local stack (scripts/stack-up.sh)
# one at a time, e.g. for failover tests. Reads the settings the stack was
# started with from STACK_DIR/stack.env (STACK_DIR defaults to /tmp/auth-stack).
#
#   status                exit 0 when nginx, every replica and the database run, else 3
#   url                   the stack's URL (nginx)
#   env                   shell assignments: STACK_URL, DATABASE_URL, AUTH_JWT_SECRET,
#                         replica ports...; use as: eval "$(scripts/stack-ctl.sh env)"
#   stop-replica N        take replica N out of nginx (marked `down`, graceful reload), then
#                         SIGTERM it (it drains in-flight requests) and wait for it
#   start-replica N       start replica N again, same port, same settings; waits for /healthz,
#                         then puts it back into nginx
#   restart-replica N     stop-replica N, then start-replica N
#   kill-replica N        SIGKILL replica N (a crash: in-flight requests are lost)
#   stop-db | start-db    stop / start PostgreSQL only (the replicas keep running)
#   stop-nginx | start-nginx | reload-nginx
#   app-server ARGS...    the app-server CLI with the replicas' environment
#                         (e.g. create-user alice --admin <<<"password")
#   migrate ARGS...       migrate with the replicas' environment (status, revert)
#   psql ARGS...          psql connected to the stack's database as the auth role
#
# N runs from 1 to STACK_REPLICAS. A replica stopped by stop-replica is marked
# `down` in nginx until start-replica; a killed one stays in nginx's list:
# connections to it are refused, and nginx passes those requests (any method;
# nothing reached the replica) to the others.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"

cmd=${1:-}
[ -n "$cmd" ] || { usage >&2; exit 2; }
case $cmd in -h|--help|help) usage; exit 0 ;; esac
shift
stack_load || die "no stack in $STACK_DIR (start one with scripts/stack-up.sh)"

replica_arg() {
  local n=${1:-}
  if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$STACK_REPLICAS" ]; then
    die "replica number must be 1..$STACK_REPLICAS, got '${n}'"
  fi
  echo "$n"
}

status() {
  local ok=0 n pid port
  if pid=$(pid_of_ours "$(nginx_pidfile)" "$NGINX_BIN"); then
    printf '%-10s running  pid %-8s %s\n' nginx "$pid" "$(stack_url)"
  else
    printf '%-10s stopped  %-12s %s\n' nginx "" "$(stack_url)"; ok=3
  fi
  for n in $(seq 1 "$STACK_REPLICAS"); do
    port=$(replica_port "$n")
    if pid=$(pid_of_ours "$(replica_pidfile "$n")" "$APP_BIN"); then
      printf '%-10s running  pid %-8s 127.0.0.1:%s\n' "app-$n" "$pid" "$port"
    else
      printf '%-10s stopped  %-12s 127.0.0.1:%s\n' "app-$n" "" "$port"; ok=3
    fi
  done
  if db_running; then
    printf '%-10s running  %-12s 127.0.0.1:%s\n' postgres "" "$STACK_PG_PORT"
  else
    printf '%-10s stopped  %-12s 127.0.0.1:%s\n' postgres "" "$STACK_PG_PORT"; ok=3
  fi
  return "$ok"
}

case $cmd in
  status) status ;;
  url) stack_url ;;
  env)
    ports=()
    for n in $(seq 1 "$STACK_REPLICAS"); do ports+=("$(replica_port "$n")"); done
    printf 'STACK_URL=%q\n' "$(stack_url)"
    printf 'STACK_DIR=%q\n' "$STACK_DIR"
    printf 'STACK_REPLICAS=%q\n' "$STACK_REPLICAS"
    printf 'STACK_REPLICA_PORTS=%q\n' "${ports[*]}"
    printf 'STACK_PG_PORT=%q\n' "$STACK_PG_PORT"
    printf 'STACK_PG_SUPERUSER_URL=%q\n' "$PG_SUPERUSER_URL"
    printf 'DATABASE_URL=%q\n' "$DATABASE_URL"
    printf 'AUTH_JWT_SECRET=%q\n' "$(cat "$STACK_DIR/jwt-secret")"
    ;;
  stop-replica)
    n=$(replica_arg "${1:-}")
    drain_replica "$n"
    stop_replica "$n"
    ;;
  start-replica)
    n=$(replica_arg "${1:-}")
    start_replica "$n"
    undrain_replica "$n"
    ;;
  restart-replica)
    n=$(replica_arg "${1:-}")
    drain_replica "$n"
    stop_replica "$n"
    start_replica "$n"
    undrain_replica "$n"
    ;;
  kill-replica)
    n=$(replica_arg "${1:-}")
    stop_pidfile "app-$n" "$(replica_pidfile "$n")" "$APP_BIN" KILL 5
    ;;
  stop-db) stop_db; info "PostgreSQL stopped" ;;
  start-db) start_db; info "PostgreSQL running on 127.0.0.1:$STACK_PG_PORT" ;;
  stop-nginx) stop_nginx ;;
  start-nginx) render_nginx; start_nginx ;;
  reload-nginx) render_nginx; reload_nginx ;;
  app-server) run_with_app_env "$APP_BIN" "$@" ;;
  migrate) run_with_app_env "$MIGRATE_BIN" "$@" ;;
  psql) auth_psql_env; exec psql -X -d "$AUTH_PSQL_URL" "$@" ;;
  *) usage >&2; die "unknown command '$cmd'" ;;
esac
