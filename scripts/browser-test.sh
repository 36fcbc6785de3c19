#!/usr/bin/env bash
# browser-test.sh — the demo page (web/demo) in a real browser: headless
# Chromium (Debian's chromium and chromium-driver, installed here when
# missing, as root) driven by Selenium under pytest (tests/browser/), through
# the loopback stack's nginx (scripts/stack-up.sh) with cookie mode `both`.
#
#   scripts/browser-test.sh              everything (run by scripts/test.sh after the
#                                        stack tests; SKIP_BROWSER=1 leaves it out)
#   scripts/browser-test.sh PYTEST-ARGS  e.g. -k sign_out (the first run only)
#
# Steps: cargo build of the debug binaries; the stack in a throwaway STACK_DIR
# on free ports, with AUTH_COOKIE_MODE=both, AUTH_TRUSTED_ORIGINS its own
# origin http://localhost:PORT (localhost: Chromium keeps Secure cookies,
# __Host- and __Secure- ones included, from it over plain http),
# AUTH_CORS_ORIGINS the foreign origin, a 20 s access token and a 10 s reuse
# interval; a second nginx on another port serving tests/browser/foreign/ (the
# foreign origin: same site, other port); pytest -m "not reuse_off and not
# refresh_mode"; then the stack restarted with AUTH_COOKIE_MODE=refresh and
# AUTH_REFRESH_REUSE_INTERVAL=0s for pytest -m "reuse_off or refresh_mode".
# Everything stopped on exit, whatever failed.
#
# Screenshots (every window of a failed test's browsers, and the signed-in
# page, demo-signed-in.png) go into BROWSER_ARTIFACTS (default
# target/browser-test), printed at the end. On a failure the STACK_DIR (logs)
# is kept. The venv with tests/browser/requirements.txt is cached in
# target/browser-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$SECONDS

# shellcheck source-path=SCRIPTDIR source=lib/settings.sh
. scripts/lib/settings.sh  # stack_scrub_env
# shellcheck source-path=SCRIPTDIR source=lib/net.sh
. scripts/lib/net.sh  # stack_free_ports, port_busy, http_code
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. scripts/lib/common.sh  # apt_install
say() { echo "browser-test: $*" >&2; }
die() { echo "browser-test: error: $*" >&2; exit 1; }

# The caller's STACK_* and AUTH_* must not reach the test stack.
stack_scrub_env 'BROWSER_ARTIFACTS'

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ARTIFACTS=${BROWSER_ARTIFACTS:-$TARGET_DIR/browser-test}
case $ARTIFACTS in /*) ;; *) ARTIFACTS=$ROOT/$ARTIFACTS ;; esac
VENV=$TARGET_DIR/browser-venv
HERE=$ROOT/tests/browser

# ---- the browser and its driver
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "chromium and chromedriver are not installed (as root: apt-get install chromium chromium-driver)"
  say "installing chromium and chromium-driver from Debian packages"
  out=$(apt_install chromium chromium-driver 2>&1) \
    || { tail -n 5 <<<"$out" >&2; die "apt-get install chromium chromium-driver failed"; }
fi
say "$(chromium --version 2>/dev/null | head -n 1), $(chromedriver --version | cut -d' ' -f1-2)"

# ---- the pinned Selenium and pytest, in a venv made once and remade when
# the pins change.
if ! cmp -s "$HERE/requirements.txt" "$VENV/installed-requirements.txt"; then
  say "installing tests/browser/requirements.txt into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/installed-requirements.txt"
fi

# ---- binaries
say "cargo build -p app-server -p migrate (debug)"
cargo build --locked -q -p app-server -p migrate || die "cargo build failed"

# ---- ports and directories
stack_free_ports 2 || die "could not find free ports"
FOREIGN_PORT=$(python3 tests/stack/ports.py one) || die "no free port for the foreign origin"
STACK_DIR=$(mktemp -d /tmp/auth-browser-test.XXXXXX)
# The postgres user (when root) and nginx's workers must enter it.
chmod 755 "$STACK_DIR"
FOREIGN_DIR=$STACK_DIR/foreign-nginx
# The screenshots of an earlier run go; the directory itself (the caller's
# choice, perhaps) stays.
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/*.png

export STACK_DIR STACK_PORT STACK_APP_PORT_BASE STACK_PG_PORT
export STACK_REPLICAS=2 STACK_BIN_DIR=$ROOT/target/debug STACK_WAIT=90 STACK_STOP_TIMEOUT=10
ORIGIN=http://localhost:$STACK_PORT
FOREIGN=http://localhost:$FOREIGN_PORT
ACCESS_LIFETIME=20
REUSE_INTERVAL=10
# Production refuses a bcrypt cost below 10 (about 60 ms in the debug build).
export AUTH_BCRYPT_COST=10 RUST_LOG=info
export AUTH_COOKIE_MODE=both AUTH_TRUSTED_ORIGINS=$ORIGIN AUTH_CORS_ORIGINS=$FOREIGN
export AUTH_ACCESS_TOKEN_LIFETIME=${ACCESS_LIFETIME}s AUTH_REFRESH_REUSE_INTERVAL=${REUSE_INTERVAL}s
export BROWSER_BASE_URL=$ORIGIN BROWSER_FOREIGN_URL=$FOREIGN BROWSER_ARTIFACTS=$ARTIFACTS
export BROWSER_ACCESS_LIFETIME=$ACCESS_LIFETIME PYTHONDONTWRITEBYTECODE=1

foreign_pid=
# shellcheck source-path=SCRIPTDIR source=lib/results.sh
. scripts/lib/results.sh  # record, results, failed

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$failed" = 0 ] && [ "$rc" != 0 ] && failed=1
  if [ -n "$foreign_pid" ]; then
    kill -QUIT "$foreign_pid" 2>/dev/null || true
    wait "$foreign_pid" 2>/dev/null || true
  fi
  stack_test_down "$failed" || failed=1
  echo >&2
  say "summary ($((SECONDS - started))s in all):"
  for r in "${results[@]}"; do echo "  $r" >&2; done
  say "screenshots: $ARTIFACTS"
  if [ "$failed" != 0 ]; then
    for f in "$STACK_DIR"/logs/app-*.log "$STACK_DIR/logs/nginx-error.log" "$FOREIGN_DIR/error.log"; do
      tail_log "$f" 8
    done
    say "FAILED; logs kept in $STACK_DIR"
    exit 1
  fi
  say "all browser tests passed"
  exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the foreign origin: a second nginx, one static page
mkdir -p "$FOREIGN_DIR/conf" "$FOREIGN_DIR/html"
cp "$HERE/foreign/index.html" "$FOREIGN_DIR/html/"
chmod 644 "$FOREIGN_DIR/html/index.html"
cat >"$FOREIGN_DIR/conf/nginx.conf" <<EOF
# rendered by scripts/browser-test.sh: the foreign origin of the browser tests
worker_processes 1;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    default_type text/html;
    client_body_temp_path client_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    server {
        listen 127.0.0.1:$FOREIGN_PORT;
        root html;
        log_not_found off;
    }
}
EOF
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
t=$SECONDS
rc=0
port_busy "$FOREIGN_PORT" && die "port $FOREIGN_PORT is taken"
env -u NGINX "$NGINX_BIN" -p "$FOREIGN_DIR/" -c "$FOREIGN_DIR/conf/nginx.conf" -e stderr \
  -g "pid $FOREIGN_DIR/nginx.pid; daemon off;" 2>"$FOREIGN_DIR/error.log" &
foreign_pid=$!

# ---- the stack
say "starting the stack in $STACK_DIR: $ORIGIN (nginx 127.0.0.1:$STACK_PORT), foreign origin $FOREIGN"
scripts/stack-up.sh >/dev/null || rc=$?
[ "$rc" = 0 ] && [ "$(http_code "$FOREIGN/" 3)" != 200 ] && { say "the foreign origin's nginx does not answer"; rc=1; }
record "stack-up.sh and the foreign origin's nginx" "$rc" $((SECONDS - t))
[ "$rc" = 0 ] || exit 1

pytest_run() {  # pytest_run NAME ARGS...
  local name=$1 t=$SECONDS rc=0
  shift
  # Every wait in the tests is bounded; this bounds them all, in case.
  timeout -k 30 600 "$VENV/bin/python" -m pytest "$HERE" "$@" || rc=$?
  record "$name" "$rc" $((SECONDS - t))
}

say "pytest tests/browser: cookie mode both, reuse interval ${REUSE_INTERVAL}s"
BROWSER_COOKIE_MODE=both BROWSER_REUSE_INTERVAL=$REUSE_INTERVAL \
  pytest_run "tests/browser: cookie mode both, reuse interval ${REUSE_INTERVAL}s" \
  -m "not reuse_off and not refresh_mode" "$@"

# ---- the same stack (same database and secret) with cookie mode `refresh`
# and no reuse interval: the settings are saved at a stack's start.
t=$SECONDS
rc=0
scripts/stack-down.sh >/dev/null 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
  AUTH_COOKIE_MODE=refresh AUTH_REFRESH_REUSE_INTERVAL=0s scripts/stack-up.sh >/dev/null || rc=$?
fi
record "stack restarted: cookie mode refresh, no reuse interval" "$rc" $((SECONDS - t))
[ "$rc" = 0 ] || exit 1
say "pytest tests/browser: cookie mode refresh, no reuse interval"
BROWSER_COOKIE_MODE=refresh BROWSER_REUSE_INTERVAL=0 \
  pytest_run "tests/browser: cookie mode refresh, no reuse interval" -m "reuse_off or refresh_mode"
