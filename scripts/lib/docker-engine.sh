# shellcheck shell=bash
# docker-engine.sh — a Docker Engine and docker-compose (v1) for
# scripts/compose-test.sh: Debian's packages installed when missing, `dockerd`
# started when no daemon answers, and stopped again only if started here.
# The caller defines say() and die().

DOCKERD_PID=
DOCKERD_LOG=

# apt-get install, with an `apt-get update` only when the first try fails
# (stale package lists on a fresh machine).
docker_apt_install() {
  [ "$(id -u)" = 0 ] || die "not root: cannot install $*; install it and run again"
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: install $* by hand"
  say "installing $* from Debian's packages"
  local log
  log=$(mktemp)
  # Another apt-get may hold the lock (the suites beside this one): wait.
  local wait=(-o DPkg::Lock::Timeout=600)
  if ! DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -q "$@" >"$log" 2>&1; then
    if ! { DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" update -q && DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -q "$@"; } >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      die "could not install $*"
    fi
  fi
  rm -f "$log"
}

docker_engine_install() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  if [ ${#need[@]} -gt 0 ]; then
    docker_apt_install "${need[@]}"
  fi
}

# Starts dockerd unless a daemon already answers; DOCKERD_PID is set only
# when this function started it.
docker_engine_start() {
  if docker info >/dev/null 2>&1; then
    say "using the running Docker daemon ($(docker version --format '{{.Server.Version}}'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers, and only root can start one"
  DOCKERD_LOG=$(mktemp /tmp/compose-test-dockerd.XXXXXX)
  # Its own session: a Ctrl-C meant for the test does not reach it first.
  # Niced, and so are the image builds and containers it runs: the machine
  # is shared (on a machine of its own this changes nothing).
  setsid nice -n 10 dockerd >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  local i
  for i in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
      say "started dockerd (pid $DOCKERD_PID, log $DOCKERD_LOG) in ${i}x0.5 s"
      return 0
    fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  tail -n 20 "$DOCKERD_LOG" >&2
  die "dockerd did not come up"
}

# Stops the daemon if docker_engine_start started it (SIGTERM: it stops its
# containers and the containerd it started), and waits for it.
docker_engine_stop() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill -TERM "$DOCKERD_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 60); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then
    say "dockerd (pid $DOCKERD_PID) did not stop in 30 s; killing it"
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  wait "$DOCKERD_PID" 2>/dev/null || true
  say "stopped the dockerd started here"
  rm -f "$DOCKERD_LOG"
  DOCKERD_PID=
}
