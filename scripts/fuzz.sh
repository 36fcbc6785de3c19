#!/usr/bin/env bash
# fuzz.sh — build the cargo-fuzz targets of fuzz/ and run each one for a
# bounded time (libFuzzer's -max_total_time), then print per target the
# executions and exec/s. Exits non-zero if any target crashed (a panic, a
# failed property, a sanitizer report, a timeout or an out-of-memory), with the
# artifact path and the command to reproduce it. See fuzz/README.md.
#
# Takes about FUZZ_SECONDS x targets, plus the build (about 10 min cold on
# 2 cores, seconds when fuzz/target is warm).
#
# Env:
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_TARGETS    targets to run, space-separated (default: all)
#   FUZZ_SANITIZER  address (default) or none; if the address build fails
#                   and none was asked for, the script falls back to none
#   FUZZ_TOOLCHAIN  a rustup toolchain for `cargo +TOOLCHAIN fuzz` (default:
#                   the active one; on stable, RUSTC_BOOTSTRAP=1 unlocks the
#                   -Z flags cargo fuzz passes)
#   FUZZ_CORPUS_DIR where the fuzzer writes the inputs it finds (default: a
#                   fresh temporary folder, removed at exit); the committed
#                   seeds in fuzz/corpus/<target>/ are only ever read
#   FUZZ_LOG_DIR    libFuzzer's full output per target (default
#                   fuzz/target/fuzz-logs)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

: "${FUZZ_SECONDS:=60}"
: "${FUZZ_SANITIZER:=}"
: "${FUZZ_TOOLCHAIN:=}"
: "${FUZZ_LOG_DIR:=$ROOT/fuzz/target/fuzz-logs}"

# cargo fuzz passes nightly-only flags (-Zsanitizer, ...): a stable compiler
# accepts them with RUSTC_BOOTSTRAP=1, and a nightly one ignores the variable.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cargo_fuzz=(cargo fuzz)
[ -n "$FUZZ_TOOLCHAIN" ] && cargo_fuzz=(cargo "+$FUZZ_TOOLCHAIN" fuzz)
cargo_fuzz() { "${cargo_fuzz[@]}" "$@"; }

if [ -z "${FUZZ_TARGETS:-}" ]; then
  FUZZ_TARGETS=$(cargo_fuzz list | tr '\n' ' ')
fi

if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
  WORK=$FUZZ_CORPUS_DIR
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$FUZZ_LOG_DIR"

# --- build ------------------------------------------------------------------
sanitizer=${FUZZ_SANITIZER:-address}
echo "fuzz.sh: building the fuzz targets (sanitizer: $sanitizer, $(cargo_fuzz --version), $(rustc ${FUZZ_TOOLCHAIN:++$FUZZ_TOOLCHAIN} -V))"
build_start=$(date +%s)
if ! cargo_fuzz build --sanitizer "$sanitizer" 2>"$FUZZ_LOG_DIR/build.log"; then
  if [ -z "$FUZZ_SANITIZER" ]; then
    echo "fuzz.sh: the AddressSanitizer build failed (tail of $FUZZ_LOG_DIR/build.log below); retrying with --sanitizer none"
    tail -n 20 "$FUZZ_LOG_DIR/build.log"
    sanitizer=none
    cargo_fuzz build --sanitizer none 2>"$FUZZ_LOG_DIR/build.log" \
      || { tail -n 40 "$FUZZ_LOG_DIR/build.log"; echo "fuzz.sh: build failed"; exit 2; }
  else
    tail -n 40 "$FUZZ_LOG_DIR/build.log"
    echo "fuzz.sh: build failed"
    exit 2
  fi
fi
echo "fuzz.sh: built in $(($(date +%s) - build_start)) s"

# --- run --------------------------------------------------------------------
# Inputs as long as the service accepts, and a little more.
max_len() {
  case $1 in
    token_decode) echo 10240 ;;  # past MAX_TOKEN_BYTES (8 KiB)
    json_bodies) echo 4096 ;;    # MAX_BODY_BYTES: larger bodies are a 413
    token_claims) echo 4096 ;;
    bearer_header) echo 8192 ;;  # actix's header size limit
    *) echo 2048 ;;
  esac
}

dict_for() {
  case $1 in
    json_bodies | token_claims) echo fuzz/dicts/json.dict ;;
    *) [ -f "fuzz/dicts/$1.dict" ] && echo "fuzz/dicts/$1.dict" ;;
  esac
  return 0
}

# The value of a libFuzzer final stat, or the last progress line's count.
final_stat() { grep -o "stat::$2: *[0-9]*" "$1" | grep -o '[0-9]*$' | tail -n 1; }

failed=()
summary=()
for target in $FUZZ_TARGETS; do
  seeds=fuzz/corpus/$target
  corpus=$WORK/$target
  log=$FUZZ_LOG_DIR/$target.log
  mkdir -p "$corpus" "$seeds"
  args=(-max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -max_len="$(max_len "$target")"
        -timeout=30 -rss_limit_mb=3072)
  dict=$(dict_for "$target")
  [ -n "$dict" ] && args+=(-dict="$dict")
  echo "fuzz.sh: $target for ${FUZZ_SECONDS} s (seeds: $(find "$seeds" -type f | wc -l), log: $log)"
  start=$(date +%s)
  set +e
  # The scratch corpus comes first: libFuzzer writes what it finds there
  # only. The outer timeout is a guard against a stuck process.
  timeout --kill-after=30 $((FUZZ_SECONDS + 600)) \
    "${cargo_fuzz[@]}" run --sanitizer "$sanitizer" "$target" "$corpus" "$seeds" -- "${args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(($(date +%s) - start))
  execs=$(final_stat "$log" number_of_executed_units)
  rate=$(final_stat "$log" average_exec_per_sec)
  if [ -z "$execs" ]; then
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    [ -n "$execs" ] && [ "$elapsed" -gt 0 ] && rate="~$((execs / elapsed))"
  fi
  found=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed+=("$target")
    echo "fuzz.sh: $target FAILED — from $log:"
    grep -E "panicked at|assertion|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY|Test unit written|Base64:" "$log" | head -n 20 || true
    artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [ -n "$artifact" ]; then
      echo "fuzz.sh: artifact $artifact"
      echo "fuzz.sh: reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $target $artifact"
      echo "fuzz.sh: minimize:  RUSTC_BOOTSTRAP=1 cargo fuzz tmin --sanitizer $sanitizer $target $artifact"
    else
      tail -n 30 "$log"
    fi
  fi
  summary+=("$(printf '%-14s %6s s %12s execs %10s exec/s %6s in corpus  %s' \
    "$target" "$elapsed" "${execs:-?}" "${rate:-?}" "$found" "$result")")
done

echo
echo "fuzz.sh: summary (sanitizer: $sanitizer, ${FUZZ_SECONDS} s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (artifacts under fuzz/artifacts/)"
  exit 1
fi
echo "fuzz.sh: no crash"
