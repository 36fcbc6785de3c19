#!/usr/bin/env bash
# bench/start.sh — the simplejwt peer under gunicorn on 127.0.0.1:$PORT, and
# with WITH_NGINX=1 nginx in front of it on 127.0.0.1:$NGINX_PORT. Every start
# migrates, empties the token tables and (re-)seeds the bench users at
# BCRYPT_COST, so every run starts from the same database. bench/setup.sh first.
#
# Env: PORT (8001), WORKERS (2 * cores + 1, gunicorn's recommendation),
# WORKER_CLASS (sync; gthread keeps connections open), THREADS (1),
# KEEPALIVE (2 s), BCRYPT_COST (12), CONN_MAX_AGE (60), RESET_TOKENS (1; 0
# keeps the token tables), DATABASE_URL (PostgreSQL; default SQLite in
# PEER_DIR), GUNICORN_ARGS (extra, word-split), WITH_NGINX=1 with NGINX_PORT
# (8080) and NGINX_WORKERS (1), PEER_DIR.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$VENV/bin/gunicorn" ] || die "no venv in $VENV: run bench/setup.sh first"
if pid=$(pid_in "$GUNICORN_PIDFILE" gunicorn); then die "the peer already runs (gunicorn $pid): bench/stop.sh first"; fi
: "${WORKERS:=$(( $(nproc) * 2 + 1 ))}"
: "${WORKER_CLASS:=sync}"
: "${THREADS:=1}"
: "${KEEPALIVE:=2}"
: "${CONN_MAX_AGE:=60}"
: "${NGINX_PORT:=8080}"
: "${NGINX_WORKERS:=1}"
export CONN_MAX_AGE
[ "$(http_status "http://127.0.0.1:$PORT/")" = 000 ] || die "something already answers on 127.0.0.1:$PORT"
if [ "${WITH_NGINX:-0}" = 1 ]; then
  command -v nginx >/dev/null || die "nginx is not installed (apt-get install -y nginx-light)"
  [ "$(http_status "http://127.0.0.1:$NGINX_PORT/")" = 000 ] || die "something already answers on 127.0.0.1:$NGINX_PORT"
fi

manage migrate --noinput -v 0
if [ "${RESET_TOKENS:-1}" = 1 ]; then manage reset_tokens; fi
manage seed_users --count "$BENCH_USERS" --prefix "$BENCH_PREFIX" --password "$BENCH_PASSWORD"

rm -f "$GUNICORN_PIDFILE"
glog=$PEER_DIR/gunicorn.log
echo "--- $(date -u +%FT%TZ) workers=$WORKERS class=$WORKER_CLASS threads=$THREADS cost=$BCRYPT_COST" >> "$glog"
# --no-control-socket: gunicorn 27 would otherwise write under ~/.gunicorn.
# shellcheck disable=SC2086  # GUNICORN_ARGS is a list of words
nohup "$VENV/bin/gunicorn" peer.wsgi:application --chdir "$BENCH_HOME/app" \
  --bind "127.0.0.1:$PORT" --workers "$WORKERS" --worker-class "$WORKER_CLASS" \
  --threads "$THREADS" --keep-alive "$KEEPALIVE" --pid "$GUNICORN_PIDFILE" \
  --log-level warning --no-control-socket ${GUNICORN_ARGS:-} \
  < /dev/null >> "$glog" 2>&1 &
master=$!

# Ready when /api/me/ refuses a token-less request and every worker is up.
code=000
for _ in $(seq 150); do
  kill -0 "$master" 2>/dev/null || { tail -n 30 "$glog" >&2; die "gunicorn exited while starting"; }
  code=$(http_status "http://127.0.0.1:$PORT/api/me/")
  workers=$(pgrep -c -P "$master" || true)
  if [ "$code" = 401 ] && [ "$workers" -ge "$WORKERS" ]; then break; fi
  sleep 0.2
done
[ "$code" = 401 ] || { tail -n 30 "$glog" >&2; die "the peer is not ready on port $PORT (last status $code)"; }
db=SQLite
if [ -n "${DATABASE_URL:-}" ]; then db=PostgreSQL; fi  # the URL may hold a password: not logged
log "gunicorn $master on http://127.0.0.1:$PORT ($WORKERS $WORKER_CLASS workers, $THREADS threads, bcrypt cost $BCRYPT_COST, $db)"

[ "${WITH_NGINX:-0}" = 1 ] || exit 0
mkdir -p "$NGINX_DIR/tmp"
sed -e "s|@NGINX_DIR@|$NGINX_DIR|g" -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|g" \
  -e "s|@NGINX_PORT@|$NGINX_PORT|g" -e "s|@PORT@|$PORT|g" "$BENCH_HOME/nginx.conf" > "$NGINX_DIR/nginx.conf"
# nginx takes a variable NGINX as a list of inherited sockets: keep it out.
env -u NGINX nginx -e "$NGINX_DIR/error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" < /dev/null \
  || die "nginx did not start (see $NGINX_DIR/error.log)"
code=000
for _ in $(seq 50); do
  code=$(http_status "http://127.0.0.1:$NGINX_PORT/api/me/")
  [ "$code" = 401 ] && break
  sleep 0.1
done
[ "$code" = 401 ] || die "nginx on port $NGINX_PORT does not reach the peer (status $code)"
log "nginx $(cat "$NGINX_PIDFILE") on http://127.0.0.1:$NGINX_PORT -> gunicorn :$PORT"
