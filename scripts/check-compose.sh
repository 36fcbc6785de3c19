#!/usr/bin/env bash
# check-compose.sh — static checks of docker-compose.yml and .env.example; no
# Docker engine needed.
#
#   scripts/check-compose.sh [COMPOSE_FILE]
#
# 1. `docker-compose config` (compose v1, `apt-get install docker-compose`;
#    installed here when missing and run as root) validates the file against
#    the Compose schema, with .env.example standing in for .env. When v1 can
#    be neither found nor installed this step is skipped with a notice, unless
#    CHECK_COMPOSE_REQUIRE_V1=1.
# 2. tests/stack/check_compose.py (Python, PyYAML: installed here when
#    missing) checks what the stack relies on: the four services, their
#    dependencies, the database's health check and volume, a scalable `app`,
#    the variables the app needs, nginx's published port and fixed address,
#    and that they agree with AUTH_TRUSTED_PROXIES.
# 3. `nginx -t` of nginx/ with its compose deploy/ files (as root), and that
#    .env is git-ignored.
# Exits non-zero with a message naming the failed check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"  # apt_install
COMPOSE=${1:-$ROOT/docker-compose.yml}
ENV_EXAMPLE=$ROOT/.env.example

fail() { echo "check-compose: FAIL: $*" >&2; exit 1; }
say() { echo "check-compose: $*"; }

[ -f "$COMPOSE" ] || fail "no compose file at $COMPOSE"
[ -f "$ENV_EXAMPLE" ] || fail "no .env.example at $ENV_EXAMPLE"
COMPOSE=$(cd "$(dirname "$COMPOSE")" && pwd)/$(basename "$COMPOSE")

# The compose file reads `.env` (env_file and interpolation), which is
# git-ignored and may hold real secrets: validate against a copy of
# .env.example in a scratch project directory instead of touching it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$ENV_EXAMPLE" "$tmp/.env"

# ---- 1. docker-compose v1
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing docker-compose (v1) from Debian packages"
  # --no-install-recommends: the Docker engine itself is not needed to validate.
  apt_install --no-install-recommends docker-compose >"$tmp/apt.log" 2>&1 || say "notice: could not install docker-compose (see apt output below)"
  command -v docker-compose >/dev/null 2>&1 || tail -n 5 "$tmp/apt.log" >&2
fi

resolved=
if command -v docker-compose >/dev/null 2>&1; then
  # --project-directory: relative paths and `.env` resolve in the scratch dir.
  # `config` validates as `config -q` does, and prints the resolved file.
  docker-compose -f "$COMPOSE" --project-directory "$tmp" config >"$tmp/resolved.yml" 2>"$tmp/config.err" \
    || { cat "$tmp/config.err" >&2; fail "docker-compose config rejected $COMPOSE"; }
  resolved=$tmp/resolved.yml
  say "ok: $(docker-compose version --short 2>/dev/null || echo v1) 'config' accepts $(basename "$COMPOSE") with .env.example as .env"
elif [ "${CHECK_COMPOSE_REQUIRE_V1:-0}" = 1 ]; then
  fail "docker-compose (v1) is not available and CHECK_COMPOSE_REQUIRE_V1=1"
else
  say "SKIP: docker-compose (v1) not available: schema validation skipped"
fi

# ---- 2. structure
if ! python3 -c 'import yaml' 2>/dev/null; then
  say "installing PyYAML"
  python3 -m pip install -q pyyaml >"$tmp/pip.log" 2>&1 \
    || python3 -m pip install -q --break-system-packages pyyaml >>"$tmp/pip.log" 2>&1 \
    || { tail -n 5 "$tmp/pip.log" >&2; fail "PyYAML is missing and could not be installed"; }
fi

python3 "$ROOT/tests/stack/check_compose.py" "$COMPOSE" "$ENV_EXAMPLE" "$resolved"

# ---- 3. nginx -t of the compose nginx config (nginx/ with its deploy/ as
# committed). `app` only resolves inside Docker, so when root, nginx runs in a
# private mount namespace whose /etc/hosts names two stand-in replicas; the
# machine's own /etc/hosts is untouched.
if command -v nginx >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  cp /etc/hosts "$tmp/hosts"
  printf '172.28.0.130 app\n172.28.0.131 app\n' >>"$tmp/hosts"
  mkdir -p "$tmp/nginx-prefix"
  # shellcheck disable=SC2016  # expanded by the inner shell
  if ! out=$(unshare -m sh -c 'mount --bind "$1" /etc/hosts && exec env -u NGINX nginx -t -q -p "$2/" -c "$3" -e stderr -g "pid $2/nginx.pid;"' \
        sh "$tmp/hosts" "$tmp/nginx-prefix" "$ROOT/nginx/nginx.conf" 2>&1); then
    echo "$out" >&2
    fail "nginx -t rejects nginx/nginx.conf with the compose deploy/ files"
  fi
  say "ok: nginx $(nginx -v 2>&1 | sed 's|.*/||') -t accepts nginx/nginx.conf with nginx/deploy/ (app resolved to stand-in addresses)"
else
  say "SKIP: nginx -t of the compose nginx config (needs nginx, root and a private mount namespace)"
fi

# .env holds the real secrets: it must never be committed.
if command -v git >/dev/null 2>&1 && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$ROOT" check-ignore -q .env || fail ".env is not git-ignored"
  say "ok: .env is git-ignored"
fi
