#!/usr/bin/env bash
# ha-test.sh — the failover tests of the highly available stack (docs/ha.md):
# scripts/ha-up.sh in a throwaway HA_DIR with its own namespace prefix and
# network (a developer's stack from ha-up.sh is never touched), then
# tests/ha/ha_test.py under load, then scripts/ha-down.sh, always.
#
#   scripts/ha-test.sh                 every scenario (run by scripts/test.sh)
#   scripts/ha-test.sh SCENARIO...     a subset: kill-primary cut-primary
#                                      switchover kill-app-host kill-etcd
#
# As root. Builds the debug binaries first (a no-op when up to date; about
# 2 minutes from a clean clone), installs Patroni, etcd and HAProxy when
# missing. Bounded: the stack's start by HA_WAIT per step, the tests by a
# hard timeout (HA_TEST_TIMEOUT, 780 s); in all, well within 15 minutes.
#
# Knobs: HA_TEST_RATE (20 requests/s), HA_TEST_STEADY (8 s), HA_TEST_KEEP=1
# (leave the stack running afterwards), HA_TEST_NO_BUILD=1, HA_TEST_PREFIX
# (hat) and HA_TEST_NET (10.78.0) for the namespaces and addresses. On a
# failure the stack is stopped but HA_DIR (logs, load.jsonl, report.json) is
# kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$SECONDS
say() { echo "ha-test: $*" >&2; }
die() { echo "ha-test: error: $*" >&2; exit 1; }

case ${1:-} in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ "$(id -u)" = 0 ] || die "run as root: the hosts are network namespaces"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [ "${HA_TEST_NO_BUILD:-0}" != 1 ]; then
  say "cargo build -p app-server -p migrate (debug)"
  nice -n 10 cargo build --locked -q -p app-server -p migrate || die "cargo build failed"
fi

HA_DIR=$(mktemp -d /tmp/auth-ha-test.XXXXXX)
chmod 755 "$HA_DIR"
export HA_DIR HA_PREFIX=${HA_TEST_PREFIX:-hat} HA_NET=${HA_TEST_NET:-10.78.0}
export HA_BIN_DIR=$ROOT/target/debug HA_WAIT=${HA_WAIT:-120} PYTHONDONTWRITEBYTECODE=1
export HA_TEST_SCENARIOS="${*:-}"

rc=0
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  [ "$rc" = 0 ] && rc=$code
  if [ "${HA_TEST_KEEP:-0}" = 1 ]; then
    say "HA_TEST_KEEP=1: the stack keeps running (HA_DIR=$HA_DIR scripts/ha-down.sh --purge)"
  elif [ "$rc" = 0 ]; then
    scripts/ha-down.sh --purge >/dev/null 2>&1 || { say "ha-down failed"; rc=1; }
  else
    scripts/ha-down.sh >/dev/null 2>&1 || say "ha-down failed"
    for f in "$HA_DIR"/app*/logs/app-1.log "$HA_DIR"/db*/logs/patroni.log; do
      [ -s "$f" ] && { echo "---- last lines of $f:" >&2; tail -n 6 "$f" | cut -c1-300 >&2; }
    done
    say "FAILED after $((SECONDS - started))s; logs kept in $HA_DIR"
    exit "$rc"
  fi
  say "passed in $((SECONDS - started))s"
  exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting the stack in $HA_DIR (namespaces $HA_PREFIX-*, $HA_NET.0/24)"
t=$SECONDS
scripts/ha-up.sh >/dev/null || { rc=1; die "ha-up.sh failed"; }
say "stack up in $((SECONDS - t))s"

timeout -k 20 "${HA_TEST_TIMEOUT:-780}" nice -n 5 python3 tests/ha/ha_test.py || rc=$?
if [ -s "$HA_DIR/report.json" ]; then
  mkdir -p "$ROOT/target" && cp "$HA_DIR/report.json" "$ROOT/target/ha-report.json"
fi
[ "$rc" = 0 ] || exit "$rc"
scripts/ha-ctl.sh status >&2 || { rc=1; die "the stack is not whole after the tests"; }
