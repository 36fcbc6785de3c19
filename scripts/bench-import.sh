#!/usr/bin/env bash
# bench-import.sh — time `app-server import-django-users` (release build) on
# a generated dump of N users (default 100,000; bench/import/make_dump.py):
# wall time and peak RSS (GNU time), into a fresh SQLite database and, when
# TEST_DATABASE_URL is set, a fresh PostgreSQL database on that server
# (dropped afterwards). The numbers go to BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-100000}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release -p app-server -p migrate --locked
BIN=$TARGET_DIR/release/app-server
MIGRATE=$TARGET_DIR/release/migrate
WORK=$(mktemp -d /tmp/auth-bench-import.XXXXXX)
PG_DB=
cleanup() {
  if [ -n "$PG_DB" ]; then psql "$TEST_DATABASE_URL" -XAtq -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
python3 bench/import/make_dump.py "$WORK/users.json" "$N"
echo "bench-import.sh: $N users, $(du -h "$WORK/users.json" | cut -f1) of JSON"

# run_one NAME URL: migrate, then the timed import.
run_one() {
  local name=$1 url=$2 env
  env=(PATH="$PATH" AUTH_DATA_DIR="$WORK" DATABASE_URL="$url" AUTH_ENV=development RUST_LOG=warn)
  (cd "$WORK" && env -i "${env[@]}" "$MIGRATE" >/dev/null)
  (cd "$WORK" && env -i "${env[@]}" /usr/bin/time -f "$name: %e s wall, %M KiB peak RSS" \
    "$BIN" import-django-users "$WORK/users.json")
}

run_one sqlite "sqlite://$WORK/auth.db"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  PG_DB=bench_import_$$
  psql "$TEST_DATABASE_URL" -XAtq -c "CREATE DATABASE $PG_DB"
  run_one postgres "${TEST_DATABASE_URL%/*}/$PG_DB"
fi
