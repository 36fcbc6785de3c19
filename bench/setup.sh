#!/usr/bin/env bash
# bench/setup.sh — build the simplejwt peer in PEER_DIR: a venv with the pinned
# bench/requirements.txt, a secret key, the migrated database and the bench
# users. Idempotent; run it again after changing requirements.txt.
#
# Env: PEER_DIR (${TMPDIR:-/tmp}/auth-bench-peer), PYTHON (python3),
# DATABASE_URL (PostgreSQL instead of SQLite in PEER_DIR), BCRYPT_COST (12),
# BENCH_USERS (100), BENCH_PREFIX (bench), BENCH_PASSWORD.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PYTHON=${PYTHON:-python3}
mkdir -p "$PEER_DIR"

if [ ! -x "$VENV/bin/python" ]; then
  log "creating the venv in $VENV"
  if ! "$PYTHON" -m venv "$VENV"; then
    [ "$(id -u)" = 0 ] || die "$PYTHON -m venv failed: install python3-venv"
    rm -rf "$VENV"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; } \
      || die "could not install python3-venv"
    "$PYTHON" -m venv "$VENV"
  fi
fi

want=$(sha256sum "$BENCH_HOME/requirements.txt" | cut -d' ' -f1)
stamp=$VENV/.requirements.sha256
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "installing bench/requirements.txt"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$BENCH_HOME/requirements.txt"
  echo "$want" > "$stamp"
fi

if [ ! -s "$PEER_DIR/secret_key" ]; then
  (umask 077; head -c 48 /dev/urandom | base64 -w0 > "$PEER_DIR/secret_key")
fi

manage check
manage migrate --noinput -v 0
manage seed_users --count "$BENCH_USERS" --prefix "$BENCH_PREFIX" --password "$BENCH_PASSWORD"

{
  echo "python==$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
  "$VENV/bin/python" -m pip freeze --disable-pip-version-check
} > "$PEER_DIR/versions.txt"
log "versions in $PEER_DIR/versions.txt: $(tr '\n' ' ' < "$PEER_DIR/versions.txt")"
log "set up; next: bench/start.sh"
