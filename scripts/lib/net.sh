# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# net.sh — loopback ports and HTTP probes: is a port taken, which ports are
# free for a stack, what a URL answers. Sourced, never run.
[ -z "${_STACK_LIB_NET:-}" ] || return 0
_STACK_LIB_NET=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# port_busy PORT: something accepts connections on 127.0.0.1:PORT.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stack_free_ports REPLICAS: set STACK_PORT, STACK_APP_PORT_BASE and
# STACK_PG_PORT to free ports (not exported): nginx, then REPLICAS + 1
# consecutive ports for the replicas (BASE+1..BASE+REPLICAS; BASE is kept
# free too), then PostgreSQL. All below the ephemeral range (32768+), so that
# an outgoing connection cannot take one between this check and the bind
# (tests/stack/ports.py).
stack_free_ports() {
  local ports
  ports=$(python3 "$STACK_ROOT/tests/stack/ports.py" stack "$1") || return 1
  # shellcheck disable=SC2034  # the caller's
  read -r STACK_PORT STACK_APP_PORT_BASE STACK_PG_PORT <<<"$ports"
  [ -n "${STACK_PG_PORT:-}" ]
}

# http_code URL [MAX_SECONDS]: the status code of a GET, 000 when nothing
# answers (curl, else tests/stack/http_status.py).
http_code() {
  local url=$1 max=${2:-3}
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time "$max" "$url" 2>/dev/null || true
  else
    python3 "$STACK_ROOT/tests/stack/http_status.py" "$url" "$max" 2>/dev/null || echo 000
  fi
}
