#!/usr/bin/env bash
# stack-test.sh — the stack, fault and soak tests: real nginx in front of real
# app-server replicas on a real PostgreSQL, all on loopback, started by
# scripts/stack-up.sh in a throwaway STACK_DIR on free ports (a developer's
# stack in /tmp/auth-stack, or any other, is never touched), exercised by
# tests/stack/test_stack.py (Python 3, standard library only), and always
# stopped on exit.
#
#   scripts/stack-test.sh              everything (run last by scripts/test.sh),
#                                      test_mail.py's mail scenario included
#   scripts/stack-test.sh SCENARIO...  a subset: client-flow kill-replica
#                                      rolling-restart db-stopped db-killed
#                                      db-locked sigterm soak
#   scripts/stack-test.sh mail         only tests/stack/test_mail.py
#
# Steps: cargo build of the debug binaries (a no-op when up to date),
# scripts/check-compose.sh (after stack-up, which installs nginx when root,
# so that its `nginx -t` step runs), the unit tests of tests/stack's Python
# modules (python3 -m unittest discover), the scenarios, teardown. As root (CI:
# .ci/run) every check of check-compose.sh must run: one it skips is a
# failure (CHECK_COMPOSE_REQUIRE_V1=1 too); otherwise a skip is reported.
#
# Knobs: SOAK_SECONDS (default 120), SOAK_WARMUP (default 20),
# STACK_TEST_REPLICAS (default 2), STACK_TEST_KEEP=1 (leave the stack running
# afterwards, for debugging), STACK_TEST_NO_BUILD=1 (use target/debug as is).
# On a failure the stack is stopped but its STACK_DIR (logs) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$SECONDS

# shellcheck source-path=SCRIPTDIR source=lib/settings.sh
. scripts/lib/settings.sh  # stack_scrub_env
# shellcheck source-path=SCRIPTDIR source=lib/net.sh
. scripts/lib/net.sh  # stack_free_ports
say() { echo "stack-test: $*" >&2; }
die() { echo "stack-test: error: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 || die "python3 is required"
command -v psql >/dev/null 2>&1 || die "psql is required (apt-get install postgresql-client-15)"

# A developer's environment must not leak into the test stack (their
# STACK_* point at their own stack, their AUTH_* would reach the replicas).
stack_scrub_env 'STACK_TEST_*'

# ---- binaries
if [ "${STACK_TEST_NO_BUILD:-0}" != 1 ]; then
  say "cargo build -p app-server -p migrate (debug)"
  cargo build --locked -q -p app-server -p migrate -p test-support --bin app-server --bin migrate --bin smtp-sink \
    || die "cargo build failed"
fi
for bin in app-server migrate smtp-sink; do
  [ -x "target/debug/$bin" ] || die "no target/debug/$bin"
done

# ---- ports: free ones (see stack_free_ports), so that a developer's stack
# keeps running undisturbed.
replicas=${STACK_TEST_REPLICAS:-2}
stack_free_ports "$replicas" || die "could not find free ports"

STACK_DIR=$(mktemp -d /tmp/auth-stack-test.XXXXXX)
# The postgres user (when root) and nginx's workers must enter it.
chmod 755 "$STACK_DIR"
export STACK_DIR STACK_PORT STACK_APP_PORT_BASE STACK_PG_PORT
export STACK_REPLICAS=$replicas STACK_BIN_DIR=$ROOT/target/debug STACK_WAIT=90 STACK_STOP_TIMEOUT=30
# ---- mail: the replicas send to a real SMTP server (test-support's
# smtp-sink) that writes what it accepts into $MAIL_SINK_DIR (test_mail.py).
MAIL_SINK_DIR=$STACK_DIR/mail
mkdir -p "$MAIL_SINK_DIR"
sink_port=$(python3 tests/stack/ports.py one) || die "no free port for the SMTP sink"
target/debug/smtp-sink "$sink_port" "$MAIL_SINK_DIR" 2>"$STACK_DIR/smtp-sink.log" &
sink_pid=$!
export MAIL_SINK_DIR AUTH_SMTP_URL="smtp://127.0.0.1:$sink_port" AUTH_MAIL_FROM="Stack <auth@example.com>"
export AUTH_PASSWORD_RESET_URL='https://app.example.com/reset/{uid}/{token}'
export AUTH_EMAIL_VERIFICATION=optional AUTH_EMAIL_VERIFY_URL='https://app.example.com/verify/{key}'

# Production refuses a bcrypt cost below 10; bcrypt is built with
# opt-level 3 in the dev profile, so cost 10 takes ~60 ms. test_stack.py
# reads AUTH_DB_TIMEOUT back from STACK_DIR/app.env for its latency bounds.
export AUTH_BCRYPT_COST=10 AUTH_DB_TIMEOUT=3s RUST_LOG=info PYTHONDONTWRITEBYTECODE=1

# shellcheck source-path=SCRIPTDIR source=lib/results.sh
. scripts/lib/results.sh  # record, results, failed

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  { kill "${sink_pid:-}" && wait "${sink_pid:-}"; } 2>/dev/null || true
  [ "$failed" = 0 ] && [ "$rc" != 0 ] && failed=1
  if [ "${STACK_TEST_KEEP:-0}" = 1 ]; then
    say "STACK_TEST_KEEP=1: the stack keeps running in $STACK_DIR (stop: STACK_DIR=$STACK_DIR scripts/stack-down.sh --purge)"
  else
    stack_test_down "$failed" || failed=1
  fi
  echo >&2
  say "summary ($((SECONDS - started))s in all):"
  for r in "${results[@]}"; do echo "  $r" >&2; done
  if [ "$failed" != 0 ]; then
    if [ -d "$STACK_DIR/logs" ]; then
      for f in "$STACK_DIR"/logs/app-*.log "$STACK_DIR/logs/nginx-error.log"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f:" >&2
        tail -n 8 "$f" | cut -c1-300 >&2
      done
    fi
    say "FAILED; logs kept in $STACK_DIR"
    exit 1
  fi
  say "all stack tests passed"
  exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the stack
say "starting the stack in $STACK_DIR: nginx 127.0.0.1:$STACK_PORT, $STACK_REPLICAS replicas on $((STACK_APP_PORT_BASE + 1))..$((STACK_APP_PORT_BASE + replicas)), PostgreSQL on $STACK_PG_PORT"
t=$SECONDS
rc=0
scripts/stack-up.sh >/dev/null || rc=$?
record "stack-up.sh" "$rc" $((SECONDS - t))
[ "$rc" = 0 ] || exit 1

# ---- static check of the compose stack (nginx is installed by now)
t=$SECONDS
rc=0
root=0
[ "$(id -u)" != 0 ] || root=1
out=$STACK_DIR/check-compose.out
if [ "$root" = 1 ]; then
  CHECK_COMPOSE_REQUIRE_V1=1 scripts/check-compose.sh >"$out" 2>&1 || rc=$?
else
  scripts/check-compose.sh >"$out" 2>&1 || rc=$?
fi
skipped=$(grep -c 'check-compose: SKIP' "$out" || true)
if [ "$rc" != 0 ] || [ "$skipped" != 0 ]; then
  cat "$out" >&2
else
  say "check-compose.sh: $(grep -Eo 'all [0-9]+ checks passed' "$out"), docker-compose config and nginx -t ok"
fi
if [ "$rc" = 0 ] && [ "$skipped" != 0 ]; then
  if [ "$root" = 1 ]; then
    say "check-compose.sh skipped $skipped check(s); as root (CI) every check must run"
    rc=1
  else
    rc=skip
  fi
fi
record "check-compose.sh" "$rc" $((SECONDS - t)) "$skipped check(s) skipped: not root"

# ---- unit tests of the Python helpers (check_compose.py needs PyYAML, which
# check-compose.sh installed)
t=$SECONDS
rc=0
python3 -m unittest discover -s tests/stack -t tests/stack >"$STACK_DIR/unit.out" 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
  say "tests/stack unit tests: $(grep -Eo '^Ran [0-9]+ tests?' "$STACK_DIR/unit.out")"
else
  cat "$STACK_DIR/unit.out" >&2
fi
record "tests/stack unit tests" "$rc" $((SECONDS - t))

# ---- the scenarios
mail_only=0
if [ "${1:-}" = mail ]; then mail_only=1; shift; fi
if [ "$mail_only" = 0 ]; then
  t=$SECONDS
  rc=0
  # Every wait in the tests is bounded; this bounds them all, in case.
  soak=${SOAK_SECONDS:-120}
  timeout -k 30 $((600 + ${soak%.*})) python3 tests/stack/test_stack.py "$@" || rc=$?
  record "tests/stack/test_stack.py ${*:-(all scenarios)}" "$rc" $((SECONDS - t))
fi

# Mail through the stack (a replica killed mid-send): with everything, or
# alone with `mail`.
if [ $# = 0 ]; then
  t=$SECONDS
  rc=0
  timeout -k 30 300 python3 tests/stack/test_mail.py || rc=$?
  record "tests/stack/test_mail.py" "$rc" $((SECONDS - t))
fi

# Every process of the stack must still be up after the scenarios (each
# scenario restores what it stopped).
t=$SECONDS
rc=0
scripts/stack-ctl.sh status >&2 || rc=$?
record "stack-ctl.sh status after the tests" "$rc" $((SECONDS - t))
