# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
# Sourced by bench/setup.sh, start.sh and stop.sh: defaults and helpers.
# Everything that changes at run time lives in PEER_DIR, never in the repository.

BENCH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PEER_DIR:=${TMPDIR:-/tmp}/auth-bench-peer}"
: "${PORT:=8001}"
: "${BCRYPT_COST:=12}"
: "${BENCH_USERS:=100}"
: "${BENCH_PREFIX:=bench}"
: "${BENCH_PASSWORD:=correct horse battery staple}"
export PEER_DIR PORT BCRYPT_COST BENCH_USERS BENCH_PREFIX BENCH_PASSWORD
export DJANGO_SETTINGS_MODULE=peer.settings
# Python's bytecode caches go to PEER_DIR too, not next to the sources.
export PYTHONPYCACHEPREFIX="$PEER_DIR/pycache"

VENV=$PEER_DIR/venv
GUNICORN_PIDFILE=$PEER_DIR/gunicorn.pid
NGINX_DIR=$PEER_DIR/nginx
NGINX_PIDFILE=$NGINX_DIR/nginx.pid

die() { echo "peer: error: $*" >&2; exit 1; }
log() { echo "peer: $*" >&2; }

manage() { "$VENV/bin/python" "$BENCH_HOME/app/manage.py" "$@"; }

# pid_in FILE WORD: the pid in FILE, if that process is alive (not a zombie)
# and its command line holds WORD: a recycled pid is never taken for ours.
pid_in() {
  local pid state
  [ -s "$1" ] || return 1
  pid=$(tr -dc '0-9' < "$1" 2>/dev/null) || return 1  # nginx removes its file on exit
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
  case $state in Z|X|'') return 1 ;; esac
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$2" || return 1
  echo "$pid"
}

# http_status URL: the status code of a GET (000 when nothing answers).
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }
