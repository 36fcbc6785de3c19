# shellcheck shell=bash
# Shared helpers of scripts/stack-up.sh, stack-down.sh and stack-ctl.sh: the
# local production-like stack (PostgreSQL + N app-server replicas + nginx) on
# loopback, without Docker. Sourced, never run.
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
#
# A pid file records the process start time next to the pid, and a process is
# only signalled when both still match and /proc/PID/exe is the expected
# program: a stale pid file whose pid was reused by something else is never
# killed. Nothing here kills by name.

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() { echo "stack: error: $*" >&2; exit 1; }
info() { echo "stack: $*" >&2; }
warn() { echo "stack: warning: $*" >&2; }

# usage: the calling script's header comment (from line 2 up to `set -euo`),
# without the comment marks: its --help.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# apt_install [APT-OPTION...] PACKAGE...: install Debian packages (as root);
# when that fails (a stale or empty package index, as on a fresh container),
# update the index and try once more. Output goes where the caller sends it.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; }
}

# stack_scrub_env: unset what of the caller's environment would leak into a
# stack started from here: STACK_* (they point at the caller's own stack),
# AUTH_* and RUST_LOG (saved into the replicas' settings), DATABASE_URL, and
# NGINX (nginx takes it as a list of inherited sockets). The names given as
# arguments (glob patterns) are kept.
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

# stack_free_ports REPLICAS: set STACK_PORT, STACK_APP_PORT_BASE and
# STACK_PG_PORT to free ports (not exported): nginx, then REPLICAS + 1
# consecutive ports for the replicas (BASE+1..BASE+REPLICAS; BASE is kept
# free too), then PostgreSQL. All below the ephemeral range (32768+), so that
# an outgoing connection cannot take one between this check and the bind.
stack_free_ports() {
  local ports
  ports=$(python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(1000):
    base = random.randrange(20000, 32000 - n - 3)
    ports = list(range(base, base + n + 3))  # nginx, base, base+1..n, pg
    if all(free(p) for p in ports):
        print(ports[0], ports[1], ports[-1])
        break
else:
    sys.exit("no free ports")
PY
  ) || return 1
  read -r STACK_PORT STACK_APP_PORT_BASE STACK_PG_PORT <<<"$ports"
  [ -n "${STACK_PG_PORT:-}" ]
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

# ---------------------------------------------------------------- processes

# proc_starttime PID: the start time (clock ticks after boot) of PID, field 22
# of /proc/PID/stat; the command name may hold spaces, so cut after its ')'.
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  # After the name: state is field 1 here (3 in the man page), starttime 20.
  [ "$1" != Z ] || return 1  # a zombie has exited already
  echo "${20}"
}

# proc_exe PID: the program PID runs (" (deleted)" stripped: a rebuilt binary
# keeps running from its old inode).
proc_exe() {
  local exe
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  echo "${exe% (deleted)}"
}

# pid_of_ours PIDFILE EXPECTED_EXE: print the pid when the process recorded in
# PIDFILE still runs, is the same process (same start time) and runs
# EXPECTED_EXE. Returns 1 otherwise.
pid_of_ours() {
  local pid exe
  pid=$(pid_alive "$1") || return 1
  exe=$(proc_exe "$pid") || return 1
  [ "$exe" = "$(readlink -f "$2")" ] || return 1
  echo "$pid"
}

# pid_alive PIDFILE: print the pid while the recorded process lives (same
# start time), whatever it runs: right after spawn it may still be the
# launcher shell, before it execs the program.
pid_alive() {
  local pid start now
  [ -s "$1" ] || return 1
  read -r pid start <"$1" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(proc_starttime "$pid") || return 1
  [ "$now" = "$start" ] || return 1
  echo "$pid"
}

# spawn PIDFILE STDOUT STDERR CMD...: start CMD (a program, not a function)
# detached in its own session, so a Ctrl-C in the caller's terminal or the end
# of the calling script does not reach it, with RUN_DIR as working directory,
# and record "PID STARTTIME". The child writes its own pid before exec'ing CMD,
# so the pid is right even if setsid had to fork.
spawn() {
  local pidfile=$1 out=$2 err=$3 pid start
  shift 3
  rm -f "$pidfile" "$pidfile.new"
  (
    cd "$RUN_DIR" || exit 1
    # shellcheck disable=SC2016  # $$ and $@ expand in the child shell
    setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile.new" "$@" </dev/null >>"$out" 2>>"$err" &
  )
  for _ in $(seq 1 100); do
    [ -s "$pidfile.new" ] && break
    sleep 0.05
  done
  [ -s "$pidfile.new" ] || { warn "could not start $1"; return 1; }
  pid=$(cat "$pidfile.new")
  rm -f "$pidfile.new"
  # Dead already (bad config, port taken): no pid file; callers read the log.
  start=$(proc_starttime "$pid") || return 1
  echo "$pid $start" >"$pidfile"
}

# stop_pidfile NAME PIDFILE EXPECTED_EXE SIGNAL TIMEOUT: signal the recorded
# process if it is still ours, wait up to TIMEOUT seconds for it to exit, then
# SIGKILL it. A missing or stale pid file is not an error (stop is idempotent).
stop_pidfile() {
  local name=$1 file=$2 expected=$3 sig=$4 timeout=$5 pid deadline
  if [ ! -e "$file" ]; then
    return 0
  fi
  if ! pid=$(pid_of_ours "$file" "$expected"); then
    info "$name: not running (removing stale pid file)"
    rm -f "$file"
    return 0
  fi
  info "$name: stopping pid $pid (SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while pid_of_ours "$file" "$expected" >/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "$name: pid $pid still running after ${timeout}s, sending SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$file"
}

# ---------------------------------------------------------------- HTTP

# http_code URL [MAX_SECONDS]: the status code of a GET, 000 when nothing answers.
http_code() {
  local url=$1 max=${2:-3}
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -w '%{http_code}' --max-time "$max" "$url" 2>/dev/null || true
  else
    python3 - "$url" "$max" <<'PY' 2>/dev/null || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
  fi
}

# port_busy PORT: something accepts connections on 127.0.0.1:PORT.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# tail_log FILE: the end of a log, for error messages.
tail_log() {
  if [ -s "$1" ]; then
    echo "---- last lines of $1:" >&2
    tail -n "${2:-20}" "$1" >&2
    echo "----" >&2
  fi
}

# ---------------------------------------------------------------- app replicas

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

# SIGTERM drains in-flight requests; the timeout covers nginx's 30 s read timeout.
stop_replica() {
  stop_pidfile "app-$1" "$(replica_pidfile "$1")" "$APP_BIN" TERM "$STACK_STOP_TIMEOUT"
}

# ---------------------------------------------------------------- nginx

ensure_nginx() {
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    [ "$(id -u)" = 0 ] || die "nginx is not installed (as root: apt-get install -y nginx-light)"
    info "installing nginx from Debian packages"
    # The package's postinst would start a system nginx on port 80 where
    # systemd runs; policy-rc.d is not ours to touch, and on a machine without
    # an init system nothing is started anyway.
    local out
    out=$(apt_install nginx-light 2>&1) \
      || { tail -n 5 <<<"$out" >&2; die "apt-get install nginx-light failed"; }
  fi
  NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
  NGINX_BIN=$(readlink -f "$NGINX_BIN")
}

# render_nginx: the repository's nginx/ with deploy/ rewritten for loopback.
# max_fails=0: nginx never marks a replica down. On loopback a connection to a
# stopped replica is refused within microseconds and the request goes to the
# next one, so there is nothing to save; marking it down, on the contrary,
# keeps a restarted replica out for fail_timeout, and a rolling restart
# (replica 1, then 2) then finds no live server and answers 502. Compose keeps
# max_fails (nginx/deploy/servers.conf): a stopped container's address does
# not refuse, it times out.
# A replica listed in DRAIN_FILE (taken out by stop-replica, see
# drain_replica) is rendered `down`: nginx sends it nothing.
render_nginx() {
  local conf=$NGINX_PREFIX/conf n
  mkdir -p "$conf/deploy"
  cp "$STACK_ROOT/nginx/nginx.conf" "$STACK_ROOT/nginx/headers.conf" "$conf/"
  {
    echo "# rendered by scripts/stack-up.sh: $STACK_REPLICAS replica(s) on loopback"
    for n in $(seq 1 "$STACK_REPLICAS"); do
      if replica_drained "$n"; then
        echo "server 127.0.0.1:$(replica_port "$n") down;  # drained (stack-ctl.sh stop-replica)"
      else
        echo "server 127.0.0.1:$(replica_port "$n") max_fails=0;"
      fi
    done
  } >"$conf/deploy/servers.conf"
  {
    echo "# rendered by scripts/stack-up.sh"
    echo "listen 127.0.0.1:$STACK_PORT;"
  } >"$conf/deploy/listen.conf"
}

replica_drained() {
  [ -f "$DRAIN_FILE" ] && grep -qx "$1" "$DRAIN_FILE"
}

# drain_replica N: take replica N out of nginx before it is stopped: render it
# `down`, reload nginx gracefully and wait until the old workers have exited,
# so that no nginx process holds a connection to it or can open one. Only
# then may it get SIGTERM. On SIGTERM actix-web closes its listener and drops
# the connections it accepted but had not handed to a worker yet; a request
# nginx sends at that instant fails ("upstream prematurely closed connection"
# or "connection reset by peer" in nginx's error log), and nginx does not
# pass a POST that was sent on to another replica (see proxy_next_upstream),
# so the client gets a 502. Measured with 8 clients on 2 replicas: a rolling
# restart with a plain SIGTERM lost 1 to 8 requests in 4 runs out of 6;
# drained first, none in 15 runs.
drain_replica() {
  local n=$1
  replica_drained "$n" || echo "$n" >>"$DRAIN_FILE"
  render_nginx
  if pid_of_ours "$(nginx_pidfile)" "$NGINX_BIN" >/dev/null; then
    reload_nginx exit
  fi
}

# undrain_replica N: put replica N back into nginx (after it answers /healthz).
# Nothing to do when it was not drained (e.g. restarted after kill-replica):
# a reload has a cost, it closes the idle keep-alive connections of clients.
undrain_replica() {
  local n=$1
  replica_drained "$n" || return 0
  grep -vx "$n" "$DRAIN_FILE" >"$DRAIN_FILE.new" || true
  mv "$DRAIN_FILE.new" "$DRAIN_FILE"
  render_nginx
  if pid_of_ours "$(nginx_pidfile)" "$NGINX_BIN" >/dev/null; then
    reload_nginx
  fi
}

# nginx_args [EXTRA_GLOBAL]: fill NGINX_ARGS with the command line of the
# stack's nginx: its prefix, config and pid file. NGINX is unset: nginx takes
# a variable of that name as a list of inherited listening sockets.
nginx_args() {
  NGINX_ARGS=(env -u NGINX "$NGINX_BIN" -p "$NGINX_PREFIX/" -c "$NGINX_CONF" -e stderr
              -g "pid $NGINX_PREFIX/nginx.pid;${1:-}")
}

nginx_test() {
  local out
  nginx_args
  out=$("${NGINX_ARGS[@]}" -t -q 2>&1) || { echo "$out" >&2; die "nginx -t failed for $NGINX_CONF"; }
}

start_nginx() {
  local pidfile pid deadline code
  pidfile=$(nginx_pidfile)
  if pid=$(pid_of_ours "$pidfile" "$NGINX_BIN"); then
    info "nginx: already running (pid $pid, $(stack_url))"
    return 0
  fi
  port_busy "$STACK_PORT" && die "port 127.0.0.1:$STACK_PORT is taken by another program (set STACK_PORT)"
  nginx_test
  # daemon off: the process we record is the master itself; the access log
  # (/dev/stdout in the config) and the error log (stderr) land in files.
  nginx_args " daemon off;"
  spawn "$pidfile" "$LOG_DIR/nginx-access.log" "$LOG_DIR/nginx-error.log" "${NGINX_ARGS[@]}" || true
  deadline=$((SECONDS + 10))
  while :; do
    pid=$(pid_alive "$pidfile") || { tail_log "$LOG_DIR/nginx-error.log"; die "nginx exited during start"; }
    code=$(http_code "$(stack_url)/nginx-health" 2)
    [ "$code" = 200 ] && break
    [ "$SECONDS" -lt "$deadline" ] || { tail_log "$LOG_DIR/nginx-error.log"; die "nginx did not answer $(stack_url)/nginx-health"; }
    sleep 0.1
  done
  info "nginx: running (pid $pid, $(stack_url))"
}

# SIGQUIT: graceful shutdown, in-flight requests finish.
stop_nginx() {
  stop_pidfile nginx "$(nginx_pidfile)" "$NGINX_BIN" QUIT "$STACK_STOP_TIMEOUT"
}

# reload_nginx [exit]: graceful reload (SIGHUP): new workers with the current
# config and fresh upstream state; old ones finish their requests. Returns
# once the old workers stopped taking new connections, so the next request
# sees the new state; with `exit`, once they have exited (they then hold no
# connection to any replica), within STACK_STOP_TIMEOUT.
reload_nginx() {
  local pid old w deadline busy wait_exit=${1:-}
  pid=$(pid_of_ours "$(nginx_pidfile)" "$NGINX_BIN") || die "nginx is not running"
  nginx_test
  old=$(ps -o pid= --ppid "$pid" || true)
  kill -s HUP "$pid"
  deadline=$((SECONDS + 5))
  while [ "$SECONDS" -lt "$deadline" ]; do
    busy=0
    for w in $old; do
      # A retiring worker renames itself "nginx: worker process is shutting down".
      if tr '\0' ' ' 2>/dev/null <"/proc/$w/cmdline" | grep -q 'worker process *$'; then busy=1; fi
    done
    [ "$busy" = 0 ] && break
    sleep 0.05
  done
  if [ "$wait_exit" = exit ]; then
    deadline=$((SECONDS + STACK_STOP_TIMEOUT))
    for w in $old; do
      # Gone, or a zombie the master has not reaped yet.
      while proc_starttime "$w" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
          warn "nginx: old worker $w still finishing requests after ${STACK_STOP_TIMEOUT}s"
          break 2
        fi
        sleep 0.05
      done
    done
  fi
  info "nginx: reloaded (pid $pid)"
}

# ---------------------------------------------------------------- database

pg_ctl_script() { "$STACK_ROOT/scripts/pg-cluster.sh" "$@"; }

start_db() {
  local url
  url=$(pg_ctl_script start "$PG_DIR" "$STACK_PG_PORT") || die "PostgreSQL did not start (log: $PG_DIR/server.log)"
  PG_SUPERUSER_URL=$url
}

stop_db() {
  if [ -s "$PG_DIR/data/PG_VERSION" ]; then
    pg_ctl_script stop "$PG_DIR" || warn "PostgreSQL did not stop cleanly (log: $PG_DIR/server.log)"
  fi
}

# db_running: the stack's postmaster runs (its pid file names a live postgres).
db_running() {
  local pid=
  [ -s "$PG_DIR/data/postmaster.pid" ] || return 1
  read -r pid <"$PG_DIR/data/postmaster.pid" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  case $(proc_exe "$pid" 2>/dev/null) in */postgres) return 0 ;; *) return 1 ;; esac
}

# db_setup: the `auth` role (with a password, checked by scram-sha-256 over
# TCP, like a real deployment) and its `auth` database; sets DATABASE_URL.
# pg-cluster.sh's cluster trusts every local connection, so a pg_hba line for
# the role goes first. Without psql the superuser URL is used.
# The test cluster runs with synchronous_commit=off (speed; pg-cluster.sh),
# which acknowledges commits before their WAL is written: a crash of
# PostgreSQL then loses them (a rotated refresh token answered 200 comes
# back unknown, a user answered 201 is gone). The app's role gets the
# production default back; a role setting beats the server's command line.
db_setup() {
  local pwfile=$STACK_DIR/db-password pw hba=$PG_DIR/data/pg_hba.conf
  if ! command -v psql >/dev/null 2>&1; then
    warn "psql not found: the app connects as the postgres superuser"
    DATABASE_URL=$PG_SUPERUSER_URL
    return
  fi
  if [ ! -s "$pwfile" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile")
  fi
  pw=$(cat "$pwfile")
  # The password reaches psql on stdin (\set), never on its command line.
  { printf '\\set pw %s\n' "'$pw'"
    cat <<'SQL'
SELECT 'CREATE ROLE auth LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auth')\gexec
ALTER ROLE auth LOGIN PASSWORD :'pw';
ALTER ROLE auth SET synchronous_commit = on;
SELECT 'CREATE DATABASE auth OWNER auth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'auth')\gexec
SQL
  } | psql -X -q -v ON_ERROR_STOP=1 -d "$PG_SUPERUSER_URL" >/dev/null \
    || die "could not create the auth role and database"
  if ! grep -q '^# auth-stack' "$hba"; then
    # Rewrite in place (cat >), so the file keeps its owner (postgres when the
    # cluster runs as that user) and mode.
    { echo "# auth-stack: the app's role must present its password"
      echo "host all auth 127.0.0.1/32 scram-sha-256"
      cat "$hba"; } >"$hba.new"
    cat "$hba.new" >"$hba"
    rm -f "$hba.new"
    psql -X -q -d "$PG_SUPERUSER_URL" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  DATABASE_URL="postgres://auth:$pw@127.0.0.1:$STACK_PG_PORT/auth"
  (auth_psql_env && psql -X -q -d "$AUTH_PSQL_URL" -c 'SELECT 1' >/dev/null 2>&1) \
    || die "cannot log in as the auth role (postgres://auth:***@127.0.0.1:$STACK_PG_PORT/auth)"
}

# auth_psql_env: what psql needs to connect as the app's role without the
# password on its command line (readable by every user of the machine, unlike
# the environment): PGPASSWORD exported, AUTH_PSQL_URL set to DATABASE_URL
# without the password (taken verbatim: the stack's is hex, nothing to
# percent-decode).
auth_psql_env() {
  AUTH_PSQL_URL=$DATABASE_URL
  if [[ $DATABASE_URL =~ ^([a-z]+://[^:@/]*):([^@/]*)@(.*)$ ]]; then
    AUTH_PSQL_URL=${BASH_REMATCH[1]}@${BASH_REMATCH[3]}
    export PGPASSWORD=${BASH_REMATCH[2]}
  fi
}

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
