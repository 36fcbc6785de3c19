#!/usr/bin/env bash
# test.sh — the whole test suite, as the README gives it:
#   1. every crate's unit and integration tests, each PostgreSQL test against a
#      throwaway cluster started here on loopback (and stopped on exit);
#   2. Schemathesis against a live server on the committed docs/openapi.json;
#   3. the move from Django against a real Django project (scripts/django-test.sh);
#   4. the stack tests: the production topology (PostgreSQL, migrate, several
#      app-server replicas, nginx) on loopback, exercised through nginx, then
#      the same topology for real under docker-compose (scripts/compose-test.sh);
#      the demo page (web/demo) in headless Chromium through the loopback
#      stack with cookie mode on (scripts/browser-test.sh, a few minutes);
#   5. the failover tests of the highly available stack (scripts/ha-test.sh:
#      Patroni, etcd, HAProxy, two app hosts and nginx in network namespaces).
#      They need root: as another user they are skipped with a notice (CI
#      runs as root).
#
# The compose test's slow part, its base images and the app image's release
# build (niced, as is everything its dockerd runs), starts first and runs
# beside steps 1 to 5; its checks run last, alone, when it has the machine to
# itself. Its output is in the log file named below, shown at the end.
#
# Env: TEST_DATABASE_URL to use an existing cluster instead of starting one;
# SKIP_STACK=1 runs only steps 1 to 3 (for quick local iterations; CI runs
# everything); SKIP_COMPOSE=1, SKIP_BROWSER=1 and SKIP_HA=1 leave out one
# stack test each.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_DIR=
COMPOSE_PID=
COMPOSE_DIR=
cleanup() {
  if [ -n "$COMPOSE_PID" ]; then
    # Its own cleanup takes the project down and stops its dockerd.
    kill -TERM "$COMPOSE_PID" 2>/dev/null || true
    wait "$COMPOSE_PID" 2>/dev/null || true
    echo "test.sh: the compose test was stopped; its output:"
    sed 's/^/  /' "$COMPOSE_DIR/log"
  fi
  [ -z "$COMPOSE_DIR" ] || rm -rf "$COMPOSE_DIR"
  if [ -n "$PG_DIR" ]; then
    scripts/pg-cluster.sh stop "$PG_DIR" || true
    rm -rf "$PG_DIR"
  fi
}
trap cleanup EXIT

if [ "${SKIP_STACK:-0}" != 1 ] && [ "${SKIP_COMPOSE:-0}" != 1 ]; then
  COMPOSE_DIR=$(mktemp -d /tmp/auth-test-compose.XXXXXX)
  COMPOSE_TEST_WAIT_FOR=$COMPOSE_DIR/go scripts/compose-test.sh >"$COMPOSE_DIR/log" 2>&1 &
  COMPOSE_PID=$!
  echo "test.sh: the compose test builds its images meanwhile (log: $COMPOSE_DIR/log)"
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  PG_DIR=$(mktemp -d /tmp/auth-test-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$PG_DIR" "$(python3 tests/stack/ports.py one)")
  export TEST_DATABASE_URL
fi
echo "test.sh: PostgreSQL for tests at $TEST_DATABASE_URL"

cargo test --workspace --locked
scripts/schemathesis.sh  # the live server against the committed docs/openapi.json
scripts/django-test.sh   # users, hashes and a dump from a real Django project

if [ "${SKIP_STACK:-0}" != 1 ]; then
  scripts/stack-test.sh
  if [ "${SKIP_BROWSER:-0}" = 1 ]; then
    echo "test.sh: SKIP_BROWSER=1: the browser tests are left out"
  else
    scripts/browser-test.sh
  fi
  if [ "${SKIP_HA:-0}" = 1 ]; then
    echo "test.sh: SKIP_HA=1: the failover tests are left out"
  elif [ "$(id -u)" = 0 ]; then
    scripts/ha-test.sh
  else
    echo "test.sh: SKIPPED the failover tests (scripts/ha-test.sh): they need root"
  fi
  if [ -n "$COMPOSE_PID" ]; then
    echo "test.sh: the compose test's checks now run (scripts/compose-test.sh)"
    touch "$COMPOSE_DIR/go"
    rc=0
    wait "$COMPOSE_PID" || rc=$?
    COMPOSE_PID=
    sed 's/^/  /' "$COMPOSE_DIR/log"
    [ "$rc" = 0 ] || { echo "test.sh: the compose test FAILED"; exit "$rc"; }
  fi
fi
echo "test.sh: all tests passed"
