# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# proc.sh — processes the stack starts, and only those: each one is started
# detached and recorded in a pid file as "PID STARTTIME". A process is only
# signalled while both still match and /proc/PID/exe is the expected program:
# a stale pid file whose pid was reused by something else is never acted on.
# Nothing here kills by name. Sourced, never run.
[ -z "${_STACK_LIB_PROC:-}" ] || return 0
_STACK_LIB_PROC=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# proc_starttime PID: the start time (clock ticks after boot) of PID, field 22
# of /proc/PID/stat; the command name may hold spaces, so cut after its ')'.
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  # After the name: state is field 1 here (3 in the man page), starttime 20.
  [ "$1" != Z ] || return 1  # a zombie has exited already
  echo "${20}"
}

# proc_exe PID: the program PID runs (" (deleted)" stripped: a rebuilt binary
# keeps running from its old inode).
proc_exe() {
  local exe
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
  echo "${exe% (deleted)}"
}

# pid_of_ours PIDFILE EXPECTED_EXE: print the pid when the process recorded in
# PIDFILE still runs, is the same process (same start time) and runs
# EXPECTED_EXE. Returns 1 otherwise.
pid_of_ours() {
  local pid exe
  pid=$(pid_alive "$1") || return 1
  exe=$(proc_exe "$pid") || return 1
  [ "$exe" = "$(readlink -f "$2")" ] || return 1
  echo "$pid"
}

# pid_alive PIDFILE: print the pid while the recorded process lives (same
# start time), whatever it runs: right after spawn it may still be the
# launcher shell, before it execs the program.
pid_alive() {
  local pid start now
  [ -s "$1" ] || return 1
  read -r pid start <"$1" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(proc_starttime "$pid") || return 1
  [ "$now" = "$start" ] || return 1
  echo "$pid"
}

# spawn PIDFILE STDOUT STDERR CMD...: start CMD (a program, not a function)
# detached in its own session, so a Ctrl-C in the caller's terminal or the end
# of the calling script does not reach it, with RUN_DIR as working directory,
# and record "PID STARTTIME". The child writes its own pid before exec'ing CMD,
# so the pid is right even if setsid had to fork.
spawn() {
  local pidfile=$1 out=$2 err=$3 pid start
  shift 3
  rm -f "$pidfile" "$pidfile.new"
  (
    cd "$RUN_DIR" || exit 1
    # shellcheck disable=SC2016  # $$ and $@ expand in the child shell
    setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$pidfile.new" "$@" </dev/null >>"$out" 2>>"$err" &
  )
  for _ in $(seq 1 100); do
    [ -s "$pidfile.new" ] && break
    sleep 0.05
  done
  [ -s "$pidfile.new" ] || { warn "could not start $1"; return 1; }
  pid=$(cat "$pidfile.new")
  rm -f "$pidfile.new"
  # Dead already (bad config, port taken): no pid file; callers read the log.
  start=$(proc_starttime "$pid") || return 1
  echo "$pid $start" >"$pidfile"
}

# stop_pidfile NAME PIDFILE EXPECTED_EXE SIGNAL TIMEOUT: signal the recorded
# process if it is still ours, wait up to TIMEOUT seconds for it to exit, then
# SIGKILL it. A missing or stale pid file is not an error (stop is idempotent).
stop_pidfile() {
  local name=$1 file=$2 expected=$3 sig=$4 timeout=$5 pid deadline
  if [ ! -e "$file" ]; then
    return 0
  fi
  if ! pid=$(pid_of_ours "$file" "$expected"); then
    info "$name: not running (removing stale pid file)"
    rm -f "$file"
    return 0
  fi
  info "$name: stopping pid $pid (SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while pid_of_ours "$file" "$expected" >/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "$name: pid $pid still running after ${timeout}s, sending SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$file"
}
