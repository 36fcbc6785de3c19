# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# stack.sh — the whole local stack (PostgreSQL + N app-server replicas +
# nginx on loopback, without Docker), for scripts/stack-up.sh, stack-down.sh
# and stack-ctl.sh: every file of scripts/lib/, plus whether any part runs and
# stopping all of it. Sourced, never run.
#
#   common.sh    STACK_ROOT, die/info/warn, usage, apt_install, tail_log
#   proc.sh      pid files with start times: spawn, pid_alive, pid_of_ours,
#                stop_pidfile (never by name)
#   net.sh       port_busy, stack_free_ports (tests/stack/ports.py), http_code
#   settings.sh  the STACK_* knobs, STACK_DIR's layout, stack_save/stack_load,
#                stack_scrub_env
#   pg.sh        the cluster (pg-cluster.sh), the auth role, psql as that role
#   replicas.sh  the replicas' environment, start_replica, stop_replica
#   nginx.sh     render, start, reload, stop nginx; drain a replica
[ -z "${_STACK_LIB_STACK:-}" ] || return 0
_STACK_LIB_STACK=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
# shellcheck source=net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"
# shellcheck source=settings.sh
. "$(dirname "${BASH_SOURCE[0]}")/settings.sh"
# shellcheck source=pg.sh
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
# shellcheck source=replicas.sh
. "$(dirname "${BASH_SOURCE[0]}")/replicas.sh"
# shellcheck source=nginx.sh
. "$(dirname "${BASH_SOURCE[0]}")/nginx.sh"

# stack_any_running: a process of the stack (or its database) is up.
stack_any_running() {
  local f
  for f in "$RUN_DIR"/*.pid; do
    [ -e "$f" ] || continue
    pid_alive "$f" >/dev/null && return 0
  done
  db_running
}

# stack_stop_all: nginx first (no new requests), then the replicas (SIGTERM
# drains), then the database. Every pid file in run/ is handled, whatever the
# replica count, so a stack started with more replicas stops completely.
stack_stop_all() {
  local f n
  stop_nginx
  for f in "$RUN_DIR"/app-*.pid; do
    [ -e "$f" ] || continue
    n=${f##*/app-}
    n=${n%.pid}
    stop_replica "$n"
  done
  stop_db
}
