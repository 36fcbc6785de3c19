#!/usr/bin/env bash
# test.sh — the whole test suite, as the README gives it:
#   1. every crate's unit and integration tests, each PostgreSQL test against a
#      throwaway cluster started here on loopback (and stopped on exit);
#   2. Schemathesis against a live server on the committed docs/openapi.json;
#   3. the stack tests: the production topology (PostgreSQL, migrate, several
#      app-server replicas, nginx) on loopback, exercised through nginx, then
#      the same topology for real under docker-compose (scripts/compose-test.sh);
#   4. the failover tests of the highly available stack (scripts/ha-test.sh:
#      Patroni, etcd, HAProxy, two app hosts and nginx in network namespaces).
#      They need root: as another user they are skipped with a notice (CI
#      runs as root).
#
# Env: TEST_DATABASE_URL to use an existing cluster instead of starting one;
# SKIP_STACK=1 runs only steps 1 and 2 (for quick local iterations; CI runs
# everything); SKIP_COMPOSE=1 and SKIP_HA=1 leave out one stack test each.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  PG_DIR=$(mktemp -d /tmp/auth-test-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  cleanup() { scripts/pg-cluster.sh stop "$PG_DIR" || true; rm -rf "$PG_DIR"; }
  trap cleanup EXIT
  TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$PG_DIR" "$(python3 tests/stack/ports.py one)")
  export TEST_DATABASE_URL
fi
echo "test.sh: PostgreSQL for tests at $TEST_DATABASE_URL"

cargo test --workspace --locked
scripts/schemathesis.sh  # the live server against the committed docs/openapi.json

if [ "${SKIP_STACK:-0}" != 1 ]; then
  scripts/stack-test.sh
  [ "${SKIP_COMPOSE:-0}" = 1 ] || scripts/compose-test.sh
  if [ "${SKIP_HA:-0}" = 1 ]; then
    echo "test.sh: SKIP_HA=1: the failover tests are left out"
  elif [ "$(id -u)" = 0 ]; then
    scripts/ha-test.sh
  else
    echo "test.sh: SKIPPED the failover tests (scripts/ha-test.sh): they need root"
  fi
fi
echo "test.sh: all tests passed"
