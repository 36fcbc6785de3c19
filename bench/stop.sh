#!/usr/bin/env bash
# bench/stop.sh — stop what bench/start.sh started: only the pids in PEER_DIR's
# pid files, and only while they still belong to nginx and gunicorn.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

stop_pidfile() { # NAME PIDFILE WORD
  local pid
  if ! pid=$(pid_in "$2" "$3"); then rm -f "$2"; return 0; fi
  # TERM: gunicorn lets its workers finish their request; nginx stops at once.
  kill -TERM "$pid"
  local tries=300
  while pid_in "$2" "$3" >/dev/null && (( tries-- > 0 )); do sleep 0.1; done
  if pid_in "$2" "$3" >/dev/null; then
    log "$1 ($pid) still runs after 30 s: KILL"
    kill -KILL "$pid" || true
  fi
  rm -f "$2"
  log "$1 stopped ($pid)"
}

stop_pidfile nginx "$NGINX_PIDFILE" nginx
stop_pidfile gunicorn "$GUNICORN_PIDFILE" gunicorn
