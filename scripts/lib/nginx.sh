# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# nginx.sh — the stack's nginx: installed when missing, the repository's
# nginx/ rendered for loopback, started, reloaded gracefully, stopped; a
# replica taken out of it (drained) before it stops and put back after. Reads
# the settings of settings.sh and NGINX_BIN. Sourced, never run.
[ -z "${_STACK_LIB_NGINX:-}" ] || return 0
_STACK_LIB_NGINX=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
# shellcheck source=net.sh
. "$(dirname "${BASH_SOURCE[0]}")/net.sh"
# shellcheck source=settings.sh
. "$(dirname "${BASH_SOURCE[0]}")/settings.sh"

# ensure_nginx: NGINX_BIN, installed with apt first when missing (as root).
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

# render_nginx: the repository's nginx/ with deploy/ rewritten for loopback,
# and web/demo/ beside it.
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
  # The demo page (location /demo/: `alias demo/`, under the prefix). A copy,
  # not the work tree itself: nginx's workers (nobody, when started as root)
  # must be able to read it, and the prefix is theirs to enter.
  mkdir -p "$NGINX_PREFIX/demo"
  cp "$STACK_ROOT"/web/demo/index.html "$STACK_ROOT"/web/demo/demo.js "$STACK_ROOT"/web/demo/demo.css "$NGINX_PREFIX/demo/"
  chmod 644 "$NGINX_PREFIX"/demo/*
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
