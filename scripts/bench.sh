#!/usr/bin/env bash
# bench.sh — our server side by side with the simplejwt peer of bench/, in one
# run, on loopback, with one wrk driver (bench/drive.py) so both sides get
# exactly the same scenarios (bench/wrk/):
#
#   me       GET /api/me/ with one access token            (16 connections)
#   verify   POST /api/token/verify/ with one access token (16)
#   refresh  POST /api/token/refresh/, every token used once (16, rotation chains)
#   login    POST /api/token/ at the same bcrypt cost        (4)
#   storm    /api/me/ (16) while logins saturate bcrypt (STORM_LOGIN_CONNS, 8):
#            bench/storm.py, not the driver; only when named in SCENARIOS
#
# Targets measured (TARGETS, in this order whatever the order given):
#   peer       the peer (Django + DRF + simplejwt, gunicorn, SQLite; set up by
#              bench/setup.sh in PEER_DIR, outside the repository)
#   peerstack  the peer in its production shape: gunicorn behind nginx
#              (bench/nginx.conf) on PostgreSQL, a throwaway cluster
#              (scripts/pg-cluster.sh) in BENCH_DIR
#   ours       our server direct (release build, embedded SQLite)
#   stack      our production stack through nginx (scripts/stack-up.sh:
#              PostgreSQL, 2 replicas, in BENCH_DIR on free ports: a
#              developer's stack keeps running; the caller's STACK_*, AUTH_*,
#              DATABASE_URL and RUST_LOG are ignored)
# Then the limits: bcrypt and HMAC from the auth crate's criterion benchmarks,
# and the nginx hop alone (a static 200 from nginx at the same concurrency).
#
# With `me` in SCENARIOS, every target is also measured for what one
# /api/me/ costs the database at steady state: after a warm-up, one more
# DURATION-second me run, counting the statements PostgreSQL executed
# (pg_stat_statements, preloaded in the throwaway clusters of peerstack and
# stack; PG_STAT_STATEMENTS=0 leaves it out) and our servers' session cache
# counters (/metrics: hits, misses, bypasses), per request.
#
# Output in BENCH_DIR (default /tmp/auth-bench/<UTC time>): each target's wrk
# results, <target>-statements.json, <target>-storm/, summary.md (the
# side-by-side table with ratios) and requests.png.
#
# Env: BCRYPT_COST (12, both sides), DURATION (10 s), WARMUP (2 s), REPEAT (1),
# SCENARIOS, TARGETS ("peer peerstack ours stack"), BENCH_DIR, PEER_DIR (the
# peer's venv and database, default ${TMPDIR:-/tmp}/auth-bench-peer, kept
# between runs), PEER_PORT and OURS_PORT (default: free ports),
# STORM_LOGIN_CONNS (8), PG_STAT_STATEMENTS (1), SKIP_CRITERION=1 (reuse
# target/criterion), and the driver's knobs (WAIT_IDLE, RETRY_BUSY,
# IDLE_MAX_PCT, WRK_THREADS...: bench/README.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR source=lib/settings.sh
. scripts/lib/settings.sh  # stack_scrub_env, apt_install
# shellcheck source-path=SCRIPTDIR source=lib/net.sh
. scripts/lib/net.sh  # stack_free_ports
# The caller's environment must not reach our servers: see stack_scrub_env.
# shellcheck disable=SC2119  # no names to keep
stack_scrub_env

: "${BCRYPT_COST:=12}"
: "${DURATION:=10}"
: "${WARMUP:=2}"
: "${REPEAT:=1}"
: "${SCENARIOS:=me verify refresh login}"
: "${TARGETS:=peer peerstack ours stack}"
: "${PEER_DIR:=${TMPDIR:-/tmp}/auth-bench-peer}"
: "${STORM_LOGIN_CONNS:=8}"
: "${PG_STAT_STATEMENTS:=1}"
: "${BENCH_DIR:=/tmp/auth-bench/$(date -u +%Y%m%d-%H%M%S)}"
: "${BENCH_USERS:=100}"
: "${BENCH_PASSWORD:=correct horse battery staple}"
# The driver's Lua status counting costs wrk a third of a core at our rates,
# taken from the server on a 2-core machine (the driver's README says to try
# this for fast servers); refresh counts exactly regardless. Same for both sides.
: "${WRK_EXACT_STATUS:=0}"
# storm is bench/storm.py's; the driver gets the others.
STORM=0
DRIVER_SCENARIOS=
for sc in $SCENARIOS; do
  if [ "$sc" = storm ]; then STORM=1; else DRIVER_SCENARIOS+="${DRIVER_SCENARIOS:+ }$sc"; fi
done
SCENARIOS=$DRIVER_SCENARIOS
export DURATION WARMUP REPEAT SCENARIOS BENCH_USERS BENCH_PASSWORD WRK_EXACT_STATUS PEER_DIR STORM_LOGIN_CONNS

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
# Free ports for the peer and our direct server: stack_free_ports 1 gives
# free ones (STACK_PORT, STACK_APP_PORT_BASE and STACK_PG_PORT; ports.py asks
# for at least one replica); the peer's stack and ours get their own below.
stack_free_ports 1 || die "could not find free ports"
PEER_PORT=${PEER_PORT:-$STACK_PORT}
OURS_PORT=${OURS_PORT:-$STACK_APP_PORT_BASE}
mkdir -p "$BENCH_DIR"
OURS_PID=
STACK_DIR="$BENCH_DIR/stack"
PEER_PG_DIR=

cleanup() {
  if [ -n "$OURS_PID" ] && kill -0 "$OURS_PID" 2>/dev/null; then
    kill -TERM "$OURS_PID" 2>/dev/null || true
    wait "$OURS_PID" 2>/dev/null || true
  fi
  if [ -f "$STACK_DIR/stack.env" ]; then STACK_DIR=$STACK_DIR scripts/stack-down.sh >/dev/null 2>&1 || true; fi
  bench/stop.sh >/dev/null 2>&1 || true
  if [ -n "$PEER_PG_DIR" ]; then scripts/pg-cluster.sh stop "$PEER_PG_DIR" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

ensure_tools() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v gnuplot >/dev/null || need+=(gnuplot-nox)
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v ss >/dev/null || need+=(iproute2)  # the driver finds the peer's processes by port
  command -v curl >/dev/null || need+=(curl)
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}; install them (apt-get install -y ${need[*]})"
  log "installing ${need[*]}"
  local out
  out=$(apt_install "${need[@]}" 2>&1) || { tail -n 5 <<<"$out" >&2; die "apt-get install ${need[*]} failed"; }
}

# seed_users CLI...: bench0..bench{N-1} with the bench password, two at a time
# (each is a bcrypt hash at BCRYPT_COST). Any failed create-user is fatal.
seed_users() {
  local i pid batch=()
  for ((i = 0; i < BENCH_USERS; i++)); do
    printf '%s\n' "$BENCH_PASSWORD" | "$@" create-user "bench$i" >/dev/null &
    batch+=("$!")
    if (( i % 2 == 1 || i == BENCH_USERS - 1 )); then
      for pid in "${batch[@]}"; do
        wait "$pid" || die "create-user bench$i (or its pair) failed while seeding the bench users"
      done
      batch=()
    fi
  done
}

# The driver, with its own report in OUT.
run_driver() { # LABEL URL OUT [SERVER_PID [EXTRA_PIDS]]
  local label=$1 url=$2 out=$3
  log "measuring $label at $url"
  SERVER_PID=${4:-} EXTRA_PIDS=${5:-} LABEL=$label OUT_DIR=$out python3 bench/drive.py "$url" \
    > "$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; die "the driver failed for $label"; }
  cat "$out/results.md"
}

# measure LABEL URL OUT [SERVER_PID [EXTRA_PIDS]]: the driver's scenarios,
# when any.
measure() {
  if [ -n "$SCENARIOS" ]; then run_driver "$@"; fi
}

# storm LABEL URL OUT: the login storm, when asked for. Last on each target:
# logins still queued for bcrypt when it ends finish after it.
storm() {
  local label=$1 url=$2 out=$3
  if [ "$STORM" = 1 ]; then
    log "login storm on $label at $url"
    LABEL=$label OUT_DIR=$out-storm python3 bench/storm.py "$url" > "$out-storm.log" 2>&1 \
      || { tail -n 30 "$out-storm.log" >&2; die "the login storm failed for $label"; }
    cat "$out-storm/storm.md"
  fi
}

# pgss_preload DIR PORT: the throwaway cluster in DIR made (scripts/pg-cluster.sh
# start, then stop) with pg_stat_statements preloaded, before whoever starts
# it for the run; only for clusters this script makes.
pgss_preload() {
  scripts/pg-cluster.sh start "$1" "$2" >/dev/null
  scripts/pg-cluster.sh stop "$1"
  echo "shared_preload_libraries = 'pg_stat_statements'" >> "$1/data/postgresql.conf"
}

# me_token URL: an access token of bench1.
me_token() {
  python3 - "$1" "$BENCH_PASSWORD" <<'PY'
import json, sys, urllib.request
body = json.dumps({"username": "bench1", "password": sys.argv[2]}).encode()
req = urllib.request.Request(sys.argv[1] + "/api/token/", data=body, headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=60))["access"])
PY
}

# cache_counters BASE_URL...: "hits misses bypasses" of the session cache,
# summed over the servers' /metrics ("0 0 0" for the peer: no URL).
cache_counters() {
  local u
  for u in "$@"; do curl -fs "$u/metrics" || die "no /metrics at $u"; done | awk '
    /^auth_session_cache_hits_total/ {h += $NF}
    /^auth_session_cache_misses_total/ {m += $NF}
    /^auth_session_cache_bypasses_total/ {b += $NF}
    END {printf "%d %d %d\n", h, m, b}'
}

# pg_statements SUPERUSER_URL DB: statements executed in database DB since
# the last reset (pg_stat_statements; its own queries left out).
pg_statements() {
  psql -X -qAt -d "$1" -v db="$2" <<'SQL'
SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = :'db' AND s.query NOT ILIKE '%pg_stat_statements%';
SQL
}

# me_cost LABEL URL SUPERUSER_URL|- DB|- [METRICS_BASE_URL...]: what one
# /api/me/ costs the database at steady state. A 2-second warm-up (caches and
# connection pools filled), then DURATION seconds of the me scenario (16
# connections, every status counted), with PostgreSQL's statements
# (pg_stat_statements, when a superuser URL is given) and our servers' session
# cache counters (when /metrics URLs are given) counted around it. Writes
# BENCH_DIR/LABEL-statements.json and .txt (the statements by calls).
me_cost() {
  local label=$1 url=$2 su=$3 db=$4 token requests c0 c1 stmts=null top=$BENCH_DIR/$1-statements.txt
  shift 4
  [[ " $SCENARIOS " == *" me "* ]] || return 0
  token=$(me_token "$url") || die "no token from $url for the statement count"
  ACCESS_TOKEN=$token WRK_EXACT_STATUS=1 wrk -t2 -c16 -d2s -s bench/wrk/me.lua "$url/api/me/" >/dev/null
  c0=$(cache_counters "$@")
  if [ "$su" != - ]; then psql -X -qAt -d "$su" -c 'SELECT pg_stat_statements_reset()' >/dev/null; fi
  ACCESS_TOKEN=$token WRK_EXACT_STATUS=1 wrk -t2 -c16 -d"${DURATION}s" -s bench/wrk/me.lua "$url/api/me/" \
    > "$BENCH_DIR/$label-statements.wrk.txt"
  if [ "$su" != - ]; then
    stmts=$(pg_statements "$su" "$db")
    psql -X -q -d "$su" -v db="$db" > "$top" <<'SQL'
SELECT s.calls, s.rows, left(regexp_replace(s.query, '\s+', ' ', 'g'), 160) AS query
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = :'db' AND s.query NOT ILIKE '%pg_stat_statements%' ORDER BY s.calls DESC LIMIT 12;
SQL
  fi
  c1=$(cache_counters "$@")
  requests=$(sed -n 's/^RESULT requests=\([0-9]*\) .*/\1/p' "$BENCH_DIR/$label-statements.wrk.txt")
  [ -n "$requests" ] || die "no wrk result for the statement count of $label"
  python3 - "$label" "$requests" "$stmts" "$c0" "$c1" "$(grep -o 'non2xx=[0-9]*' "$BENCH_DIR/$label-statements.wrk.txt")" \
    > "$BENCH_DIR/$label-statements.json" <<'PY'
import json, sys
label, requests, stmts, c0, c1, non2xx = sys.argv[1:]
requests = int(requests)
d = [b - a for a, b in zip(map(int, c0.split()), map(int, c1.split()))]
out = {"label": label, "requests": requests, "non2xx": int(non2xx.split("=")[1]),
       "statements": None if stmts == "null" else int(stmts),
       "cache_hits": d[0], "cache_misses": d[1], "cache_bypasses": d[2]}
out["statements_per_request"] = None if out["statements"] is None else out["statements"] / requests
out["db_reads_per_request"] = (d[1] + d[2]) / requests
print(json.dumps(out))
PY
  log "$label: /api/me/ database cost: $(cat "$BENCH_DIR/$label-statements.json")"
}

ensure_tools
log "building the release binaries"
cargo build --release --locked -p app-server -p migrate 2>&1 | tail -n 1 >&2

# ---- limits from the auth crate's criterion benchmarks ------------------------
if [ "${SKIP_CRITERION:-0}" != 1 ]; then
  log "criterion: tokens and bcrypt (a few minutes)"
  cargo bench -p auth --bench tokens --bench passwords > "$BENCH_DIR/criterion.txt" 2>&1 \
    || { tail -n 30 "$BENCH_DIR/criterion.txt" >&2; die "cargo bench failed"; }
fi

# ---- the peer ------------------------------------------------------------------
if [[ " $TARGETS " == *" peer "* ]]; then
  log "setting up the simplejwt peer (bench/setup.sh)"
  bench/stop.sh >/dev/null 2>&1 || true
  BCRYPT_COST=$BCRYPT_COST bench/setup.sh > "$BENCH_DIR/peer-setup.log" 2>&1 \
    || { tail "$BENCH_DIR/peer-setup.log" >&2; die "peer setup failed"; }
  PORT=$PEER_PORT BCRYPT_COST=$BCRYPT_COST bench/start.sh > "$BENCH_DIR/peer-start.log" 2>&1 \
    || { tail "$BENCH_DIR/peer-start.log" >&2; die "peer start failed"; }
  measure simplejwt "http://127.0.0.1:$PEER_PORT" "$BENCH_DIR/peer"
  me_cost peer "http://127.0.0.1:$PEER_PORT" - -
  storm simplejwt "http://127.0.0.1:$PEER_PORT" "$BENCH_DIR/peer"
  bench/stop.sh >/dev/null 2>&1 || true
fi

# ---- the peer in its production shape: gunicorn behind nginx, PostgreSQL ------
if [[ " $TARGETS " == *" peerstack "* ]]; then
  stack_free_ports 1 || die "could not find free ports for the peer's stack"
  ps_nginx=$STACK_PORT ps_port=$((STACK_APP_PORT_BASE + 1)) ps_pg=$STACK_PG_PORT
  PEER_PG_DIR=$BENCH_DIR/peer-pg
  mkdir -p "$PEER_PG_DIR"
  log "starting PostgreSQL for the peer (127.0.0.1:$ps_pg)"
  if [ "$PG_STAT_STATEMENTS" = 1 ]; then pgss_preload "$PEER_PG_DIR" "$ps_pg"; fi
  peer_db=$(scripts/pg-cluster.sh start "$PEER_PG_DIR" "$ps_pg") || die "PostgreSQL for the peer did not start"
  ps_su=-
  if [ "$PG_STAT_STATEMENTS" = 1 ]; then
    psql -X -q -d "$peer_db" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
    ps_su=$peer_db
  fi
  bench/stop.sh >/dev/null 2>&1 || true
  DATABASE_URL=$peer_db BCRYPT_COST=$BCRYPT_COST bench/setup.sh > "$BENCH_DIR/peerstack-setup.log" 2>&1 \
    || { tail "$BENCH_DIR/peerstack-setup.log" >&2; die "peer setup on PostgreSQL failed"; }
  DATABASE_URL=$peer_db PORT=$ps_port WITH_NGINX=1 NGINX_PORT=$ps_nginx BCRYPT_COST=$BCRYPT_COST \
    bench/start.sh > "$BENCH_DIR/peerstack-start.log" 2>&1 \
    || { tail "$BENCH_DIR/peerstack-start.log" >&2; die "peer start behind nginx failed"; }
  # The driver measures nginx (the port's listener) and gunicorn's tree.
  measure "simplejwt via nginx" "http://127.0.0.1:$ps_nginx" "$BENCH_DIR/peerstack" \
    "$(cat "$PEER_DIR/nginx/nginx.pid")" "$(cat "$PEER_DIR/gunicorn.pid")"
  me_cost peerstack "http://127.0.0.1:$ps_nginx" "$ps_su" postgres
  storm "simplejwt via nginx" "http://127.0.0.1:$ps_nginx" "$BENCH_DIR/peerstack"
  bench/stop.sh >/dev/null 2>&1 || true
  scripts/pg-cluster.sh stop "$PEER_PG_DIR" || true
  PEER_PG_DIR=
fi

# ---- our server, direct, embedded SQLite -----------------------------------------
if [[ " $TARGETS " == *" ours "* ]]; then
  OURS_DIR="$BENCH_DIR/ours-data"
  mkdir -p "$OURS_DIR"
  # Logging at warn, as the peer (root logger at WARNING, no gunicorn access log).
  ours_env=(env -i PATH="$PATH" AUTH_DATA_DIR="$OURS_DIR" AUTH_BIND="127.0.0.1:$OURS_PORT"
    AUTH_BCRYPT_COST="$BCRYPT_COST" RUST_LOG=warn)
  log "seeding $BENCH_USERS users for our server"
  seed_users "${ours_env[@]}" target/release/app-server
  "${ours_env[@]}" target/release/app-server serve > "$BENCH_DIR/ours-server.log" 2>&1 &
  OURS_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$OURS_PORT/healthz" >/dev/null && break; sleep 0.1; done
  measure ours "http://127.0.0.1:$OURS_PORT" "$BENCH_DIR/ours" "$OURS_PID"
  me_cost ours "http://127.0.0.1:$OURS_PORT" - - "http://127.0.0.1:$OURS_PORT"
  storm ours "http://127.0.0.1:$OURS_PORT" "$BENCH_DIR/ours"
  kill -TERM "$OURS_PID"; wait "$OURS_PID" || true; OURS_PID=
fi

# ---- our production stack through nginx --------------------------------------
if [[ " $TARGETS " == *" stack "* ]]; then
  stack_free_ports 2 || die "could not find free ports for the stack"
  log "starting the stack (PostgreSQL, 2 replicas, nginx on 127.0.0.1:$STACK_PORT)"
  if [ "$PG_STAT_STATEMENTS" = 1 ]; then mkdir -p "$STACK_DIR/pg" && chmod 755 "$STACK_DIR" && pgss_preload "$STACK_DIR/pg" "$STACK_PG_PORT"; fi
  STACK_DIR=$STACK_DIR STACK_PORT=$STACK_PORT STACK_APP_PORT_BASE=$STACK_APP_PORT_BASE \
    STACK_PG_PORT=$STACK_PG_PORT STACK_REPLICAS=2 STACK_BIN_DIR="$ROOT/target/release" \
    AUTH_BCRYPT_COST=$BCRYPT_COST RUST_LOG=warn scripts/stack-up.sh > "$BENCH_DIR/stack-up.log" 2>&1 \
    || { tail -n 30 "$BENCH_DIR/stack-up.log" >&2; die "the stack did not start"; }
  seed_users env STACK_DIR="$STACK_DIR" scripts/stack-ctl.sh app-server
  pids=$(for f in "$STACK_DIR"/run/app-*.pid "$STACK_DIR"/run/nginx.pid; do cut -d' ' -f1 "$f"; done | tr '\n' ' ')
  first=${pids%% *}
  stack_su=-
  if [ "$PG_STAT_STATEMENTS" = 1 ]; then
    stack_su=postgres://postgres@127.0.0.1:$STACK_PG_PORT/postgres
    psql -X -q -d "$stack_su" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
  fi
  measure "ours via nginx" "http://127.0.0.1:$STACK_PORT" "$BENCH_DIR/stack" "$first" "${pids#* }"
  me_cost stack "http://127.0.0.1:$STACK_PORT" "$stack_su" auth \
    "http://127.0.0.1:$((STACK_APP_PORT_BASE + 1))" "http://127.0.0.1:$((STACK_APP_PORT_BASE + 2))"
  storm "ours via nginx" "http://127.0.0.1:$STACK_PORT" "$BENCH_DIR/stack"
  # The nginx hop alone: a static 200 at the driver's concurrency.
  wrk -t2 -c16 -d"${DURATION}s" --latency "http://127.0.0.1:$STACK_PORT/nginx-health" > "$BENCH_DIR/nginx-hop.txt"
  STACK_DIR=$STACK_DIR scripts/stack-down.sh >/dev/null 2>&1 || true
fi

# ---- summary -------------------------------------------------------------------
python3 "$ROOT/scripts/bench_report.py" "$BENCH_DIR" "$BCRYPT_COST" > "$BENCH_DIR/summary.md"
cat "$BENCH_DIR/summary.md"
log "everything is in $BENCH_DIR"
