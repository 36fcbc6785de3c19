#!/usr/bin/env bash
# schemathesis.sh — fuzz the live server against the committed contract,
# docs/openapi.json, with Schemathesis: every check, every phase (examples,
# coverage, fuzzing, stateful), twice: with a fresh admin token on every
# request, then anonymous. Any failure fails the script.
#
# Each run has its own real app-server (debug build) on a throwaway SQLite
# database and a free loopback port, with a scrubbed environment, stopped
# afterwards. The server must first serve docs/openapi.json byte for byte: a
# stale committed copy fails here too.
#
# Env: ST_MAX_EXAMPLES (per operation and phase, default 25); ST_SEED
# (default a fixed one, so that CI runs the same cases every time; set
# another to explore).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HERE=$ROOT/tests/schemathesis
: "${ST_MAX_EXAMPLES:=25}"
: "${ST_SEED:=20251107}"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET_DIR/schemathesis-venv

# The pinned Schemathesis, in a venv made once and remade when the pins change.
if ! cmp -s "$HERE/requirements.txt" "$VENV/installed-requirements.txt"; then
  echo "schemathesis.sh: installing tests/schemathesis/requirements.txt into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/installed-requirements.txt"
fi

cargo build -q -p app-server --locked
BIN=$TARGET_DIR/debug/app-server

WORK=
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
cleanup() {
  stop_server
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# run_mode MODE: a fresh server and database, two admins (the fuzzer's and
# the one that restores it, see tests/schemathesis/hooks.py), one run.
run_mode() {
  local mode=$1 port env
  WORK=$(mktemp -d /tmp/auth-schemathesis.XXXXXX)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # cost 4: bcrypt at production cost would spend the run hashing. Every
  # documented route exists: the account-recovery features are on (their
  # mail goes to .eml files in the data dir, development's default), and so
  # are sliding tokens (`on`: their routes beside the pair's).
  env=(PATH="$PATH" AUTH_DATA_DIR="$WORK" DATABASE_URL="sqlite://$WORK/auth.db"
    AUTH_BIND="127.0.0.1:$port" AUTH_BCRYPT_COST=4 AUTH_WORKERS=2
    AUTH_ENV=development RUST_LOG=warn
    AUTH_PASSWORD_RESET_URL='https://app.example.com/reset/{uid}/{token}'
    AUTH_EMAIL_VERIFICATION=optional AUTH_EMAIL_VERIFY_URL='https://app.example.com/verify/{key}'
    AUTH_SLIDING_TOKENS=on)
  export ST_AUTH=$mode ST_BASE_URL=http://127.0.0.1:$port
  export ST_ADMIN_USERNAME=st-admin ST_KEEPER_USERNAME=st-keeper
  export ST_ADMIN_PASSWORD="admins' fuzzing passphrase $RANDOM$RANDOM"
  for admin in "$ST_ADMIN_USERNAME" "$ST_KEEPER_USERNAME"; do
    printf '%s\n' "$ST_ADMIN_PASSWORD" \
      | (cd "$WORK" && env -i "${env[@]}" "$BIN" create-user "$admin" --admin >/dev/null)
  done
  (cd "$WORK" && exec env -i "${env[@]}" "$BIN" serve) >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  local ready=0
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$ST_BASE_URL/readyz"; then ready=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "schemathesis.sh: the server did not become ready" >&2
    cat "$WORK/server.log" >&2
    return 1
  fi
  if ! curl -sf "$ST_BASE_URL/api/openapi.json" | cmp -s - docs/openapi.json; then
    echo "schemathesis.sh: the server does not serve docs/openapi.json; regenerate it:" >&2
    echo "  cargo run -p app-server -- openapi > docs/openapi.json" >&2
    return 1
  fi

  echo "schemathesis.sh: $mode, up to $ST_MAX_EXAMPLES examples per operation and phase, seed $ST_SEED"
  local status=0
  # Hypothesis's own caches (Unicode tables) go to target/, not the tree.
  HYPOTHESIS_STORAGE_DIRECTORY=$TARGET_DIR/hypothesis \
    SCHEMATHESIS_HOOKS=$HERE/hooks.py "$VENV/bin/schemathesis" \
    --config-file "$HERE/schemathesis.toml" --no-color \
    run docs/openapi.json --url "$ST_BASE_URL" \
    --max-examples "$ST_MAX_EXAMPLES" --seed "$ST_SEED" || status=1
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "schemathesis.sh: the server died" >&2
    status=1
  fi
  if [ "$status" != 0 ]; then tail -n 50 "$WORK/server.log" >&2; fi
  stop_server
  rm -rf "$WORK"
  WORK=
  return "$status"
}

run_mode admin
run_mode anonymous
echo "schemathesis.sh: no failures"
