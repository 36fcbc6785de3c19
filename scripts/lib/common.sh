# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# common.sh — what every stack script shares: STACK_ROOT (the repository),
# messages, --help from the script's header, installing Debian packages, the
# end of a log. Sourced, never run; the other files of scripts/lib/ source it.
[ -z "${_STACK_LIB_COMMON:-}" ] || return 0
_STACK_LIB_COMMON=1

# shellcheck disable=SC2034  # for the scripts and the other files of lib/
STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() { echo "stack: error: $*" >&2; exit 1; }
info() { echo "stack: $*" >&2; }
warn() { echo "stack: warning: $*" >&2; }

# usage: the calling script's header comment (from line 2 up to `set -euo`),
# without the comment marks: its --help.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# apt_install [APT-OPTION...] PACKAGE...: install Debian packages (as root);
# when that fails (a stale or empty package index, as on a fresh container),
# update the index and try once more. Output goes where the caller sends it.
# APT_WAIT: another apt-get may hold the lock (scripts/test.sh runs the
# compose test's installs beside the other suites): wait for it.
APT_WAIT=(-o DPkg::Lock::Timeout=600)
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -q "$@" \
    || { apt-get "${APT_WAIT[@]}" update -q && DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -q "$@"; }
}

# tail_log FILE [LINES]: the end of a log, for error messages.
tail_log() {
  if [ -s "$1" ]; then
    echo "---- last lines of $1:" >&2
    tail -n "${2:-20}" "$1" >&2
    echo "----" >&2
  fi
}
