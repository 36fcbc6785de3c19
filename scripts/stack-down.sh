#!/usr/bin/env bash
# stack-down.sh — stop the local stack started by scripts/stack-up.sh: nginx
# (graceful), the app-server replicas (SIGTERM, they drain), PostgreSQL.
#
#   scripts/stack-down.sh            stop; keep STACK_DIR (database, secret, logs)
#   scripts/stack-down.sh --purge    stop, then delete STACK_DIR
#
# Only processes recorded in STACK_DIR/run/*.pid are signalled, and only while
# the pid still belongs to the program that was started (same start time, same
# executable). Safe to run twice, and on a stack that is partly down.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"

purge=0
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) usage; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

if ! stack_load; then
  info "no stack in $STACK_DIR (no $STATE_FILE): nothing to stop"
  exit 0
fi

stack_stop_all
info "stopped (state kept in $STACK_DIR)"

if [ "$purge" = 1 ]; then
  # Delete only a directory that stack-up.sh made its own (it holds
  # stack.env), and never / or the home directory.
  case $STACK_DIR in
    ""|/|"$HOME"|"$STACK_ROOT") die "refusing to delete STACK_DIR=$STACK_DIR" ;;
  esac
  [ -f "$STATE_FILE" ] || die "refusing to delete $STACK_DIR: no $STATE_FILE"
  rm -rf "$STACK_DIR"
  info "deleted $STACK_DIR"
fi
