#!/usr/bin/env bash
# bench-startup.sh — start-up to the first 200 from /healthz, with an existing
# database: the release build of `app-server serve` started N times (default
# 10) on each backend, each start timed from the fork to the first 200
# (bench/startup.py polls every millisecond); median, min and max per backend.
#
#   sqlite    a data directory made (and migrated) by one untimed start
#   postgres  a throwaway cluster (scripts/pg-cluster.sh) on a free port,
#             migrated by the `migrate` binary before the timed starts
#
# Env: N (10), BACKENDS ("sqlite postgres"), BCRYPT_COST (12, the configured
# cost: start-up must not pay for it), KEEP=1 keeps the work directory.
# Output: the starts on stderr, a markdown table on stdout; everything also in
# the work directory (/tmp/auth-bench-startup.XXXXXX).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-10}
BACKENDS=${BACKENDS:-sqlite postgres}
BCRYPT_COST=${BCRYPT_COST:-12}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q --release --locked -p app-server -p migrate
BIN=$TARGET_DIR/release/app-server
MIGRATE=$TARGET_DIR/release/migrate
WORK=$(mktemp -d /tmp/auth-bench-startup.XXXXXX)
chmod 755 "$WORK"  # the PostgreSQL cluster runs as `postgres` when we are root
PG_DIR=
cleanup() {
  if [ -n "$PG_DIR" ]; then scripts/pg-cluster.sh stop "$PG_DIR" || true; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

port=$(python3 tests/stack/ports.py one)
rows=()
for backend in $BACKENDS; do
  data=$WORK/$backend-data
  mkdir -p "$data"
  env=(env -i PATH="$PATH" AUTH_DATA_DIR="$data" AUTH_BIND="127.0.0.1:$port"
    AUTH_BCRYPT_COST="$BCRYPT_COST" RUST_LOG=warn)
  case $backend in
    sqlite)
      # One untimed start makes and migrates the database.
      "${env[@]}" python3 bench/startup.py 1 "$port" "$BIN" serve >/dev/null 2>"$WORK/sqlite-first.log" \
        || { cat "$WORK/sqlite-first.log" >&2; exit 1; }
      ;;
    postgres)
      PG_DIR=$WORK/pg
      url=$(scripts/pg-cluster.sh start "$PG_DIR" "$(python3 tests/stack/ports.py one)")
      env+=(DATABASE_URL="$url")
      (cd "$data" && "${env[@]}" "$MIGRATE" >/dev/null)
      ;;
    *) echo "bench-startup: unknown backend '$backend' (sqlite, postgres)" >&2; exit 2 ;;
  esac
  echo "bench-startup: $backend, $N starts" >&2
  summary=$("${env[@]}" python3 bench/startup.py "$N" "$port" "$BIN" serve 2> >(tee "$WORK/$backend.log" >&2))
  echo "$summary" > "$WORK/$backend.json"
  rows+=("$(python3 -c 'import json, sys; d = json.loads(sys.argv[2])
print("| %s | %d | %.1f | %.1f | %.1f |" % (sys.argv[1], d["starts"], d["median_ms"], d["min_ms"], d["max_ms"]))' \
    "$backend" "$summary")")
done

echo "Start-up to the first 200 from /healthz, existing database, bcrypt cost $BCRYPT_COST, release build ($(date -u +%F), $(nproc) cores):"
echo
echo "| backend | starts | median ms | min ms | max ms |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
