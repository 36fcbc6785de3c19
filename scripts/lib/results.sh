# shellcheck shell=bash
# results.sh — the step results of a test script (stack-test.sh,
# browser-test.sh) for its summary. Sourced, never run.
#   record NAME RC SECONDS [NOTE]   RC 0 passed, "skip" skipped (NOTE says
#                                   how), anything else failed (failed=1)
# shellcheck disable=SC2034  # results and failed are read by the sourcing script
failed=0
declare -a results=()
record() {
  if [ "$2" = 0 ]; then
    results+=("ok    $1 (${3}s)")
  elif [ "$2" = skip ]; then
    results+=("SKIP  $1 (${3}s, ${4:-partly skipped})")
  else
    results+=("FAIL  $1 (${3}s, exit $2)")
    failed=1
  fi
}
