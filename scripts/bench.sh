#!/usr/bin/env bash
# bench.sh — our server side by side with the simplejwt peer of bench/, in one
# run, on loopback, with one wrk driver (bench/drive.py) so both sides get
# exactly the same scenarios (bench/wrk/):
#
#   me       GET /api/me/ with one access token            (16 connections)
#   verify   POST /api/token/verify/ with one access token (16)
#   refresh  POST /api/token/refresh/, every token used once (16, rotation chains)
#   login    POST /api/token/ at the same bcrypt cost        (4)
#
# Targets measured: the peer (Django + DRF + simplejwt, gunicorn, SQLite; set
# up by bench/setup.sh in PEER_DIR, outside the repository), our
# server direct (release build, embedded SQLite), and our production stack
# through nginx (scripts/stack-up.sh: PostgreSQL, 2 replicas, in BENCH_DIR on
# free ports: a developer's stack keeps running; the caller's STACK_*, AUTH_*,
# DATABASE_URL and RUST_LOG are ignored). Then the limits:
# bcrypt and HMAC from the auth crate's criterion benchmarks, and the nginx hop
# alone (a static 200 from nginx at the same concurrency).
#
# Output in BENCH_DIR (default /tmp/auth-bench/<UTC time>): each target's wrk
# results, summary.md (the side-by-side table with ratios) and requests.png.
#
# Env: BCRYPT_COST (12, both sides), DURATION (10 s), WARMUP (2 s), REPEAT (1),
# SCENARIOS, TARGETS ("peer ours stack"), BENCH_DIR, PEER_DIR (the peer's venv
# and database, default ${TMPDIR:-/tmp}/auth-bench-peer, kept between runs),
# PEER_PORT and OURS_PORT (default: free ports), SKIP_CRITERION=1 (reuse
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
: "${TARGETS:=peer ours stack}"
: "${BENCH_DIR:=/tmp/auth-bench/$(date -u +%Y%m%d-%H%M%S)}"
: "${BENCH_USERS:=100}"
: "${BENCH_PASSWORD:=correct horse battery staple}"
# The driver's Lua status counting costs wrk a third of a core at our rates,
# taken from the server on a 2-core machine (the driver's README says to try
# this for fast servers); refresh counts exactly regardless. Same for both sides.
: "${WRK_EXACT_STATUS:=0}"
export DURATION WARMUP REPEAT SCENARIOS BENCH_USERS BENCH_PASSWORD WRK_EXACT_STATUS

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }
# Free ports for the peer and our direct server: stack_free_ports gives three
# consecutive free ones (STACK_PORT, STACK_APP_PORT_BASE and STACK_PG_PORT);
# the stack gets its own below.
stack_free_ports 0 || die "could not find free ports"
PEER_PORT=${PEER_PORT:-$STACK_PORT}
OURS_PORT=${OURS_PORT:-$STACK_APP_PORT_BASE}
mkdir -p "$BENCH_DIR"
OURS_PID=
STACK_DIR="$BENCH_DIR/stack"

cleanup() {
  if [ -n "$OURS_PID" ] && kill -0 "$OURS_PID" 2>/dev/null; then
    kill -TERM "$OURS_PID" 2>/dev/null || true
    wait "$OURS_PID" 2>/dev/null || true
  fi
  if [ -f "$STACK_DIR/stack.env" ]; then STACK_DIR=$STACK_DIR scripts/stack-down.sh >/dev/null 2>&1 || true; fi
  bench/stop.sh >/dev/null 2>&1 || true
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
  run_driver simplejwt "http://127.0.0.1:$PEER_PORT" "$BENCH_DIR/peer"
  bench/stop.sh >/dev/null 2>&1 || true
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
  run_driver ours "http://127.0.0.1:$OURS_PORT" "$BENCH_DIR/ours" "$OURS_PID"
  kill -TERM "$OURS_PID"; wait "$OURS_PID" || true; OURS_PID=
fi

# ---- our production stack through nginx --------------------------------------
if [[ " $TARGETS " == *" stack "* ]]; then
  stack_free_ports 2 || die "could not find free ports for the stack"
  log "starting the stack (PostgreSQL, 2 replicas, nginx on 127.0.0.1:$STACK_PORT)"
  STACK_DIR=$STACK_DIR STACK_PORT=$STACK_PORT STACK_APP_PORT_BASE=$STACK_APP_PORT_BASE \
    STACK_PG_PORT=$STACK_PG_PORT STACK_REPLICAS=2 STACK_BIN_DIR="$ROOT/target/release" \
    AUTH_BCRYPT_COST=$BCRYPT_COST RUST_LOG=warn scripts/stack-up.sh > "$BENCH_DIR/stack-up.log" 2>&1 \
    || { tail -n 30 "$BENCH_DIR/stack-up.log" >&2; die "the stack did not start"; }
  seed_users env STACK_DIR="$STACK_DIR" scripts/stack-ctl.sh app-server
  pids=$(for f in "$STACK_DIR"/run/app-*.pid "$STACK_DIR"/run/nginx.pid; do cut -d' ' -f1 "$f"; done | tr '\n' ' ')
  first=${pids%% *}
  run_driver "ours via nginx" "http://127.0.0.1:$STACK_PORT" "$BENCH_DIR/stack" "$first" "${pids#* }"
  # The nginx hop alone: a static 200 at the driver's concurrency.
  wrk -t2 -c16 -d"${DURATION}s" --latency "http://127.0.0.1:$STACK_PORT/nginx-health" > "$BENCH_DIR/nginx-hop.txt"
  STACK_DIR=$STACK_DIR scripts/stack-down.sh >/dev/null 2>&1 || true
fi

# ---- summary -------------------------------------------------------------------
python3 "$ROOT/scripts/bench_report.py" "$BENCH_DIR" "$BCRYPT_COST" > "$BENCH_DIR/summary.md"
cat "$BENCH_DIR/summary.md"
log "everything is in $BENCH_DIR"
