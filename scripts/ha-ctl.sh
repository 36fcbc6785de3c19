#!/usr/bin/env bash
# ha-ctl.sh — look at and break the HA stack of scripts/ha-up.sh (as root).
#
#   scripts/ha-ctl.sh status              every host: its processes, its link,
#                                         Patroni's members, HAProxy's view, nginx
#   scripts/ha-ctl.sh env                 the stack's settings and addresses (KEY=VALUE)
#   scripts/ha-ctl.sh leader              the db host that is primary now
#   scripts/ha-ctl.sh kill-host HOST      SIGKILL every process of HOST (a power cut)
#   scripts/ha-ctl.sh start-host HOST     start HOST's services again (a reboot)
#   scripts/ha-ctl.sh isolate HOST        cut HOST's network link (it keeps running)
#   scripts/ha-ctl.sh reconnect HOST      restore it
#   scripts/ha-ctl.sh etcd-lead HOST      make the etcd member of db HOST raft's leader
#   scripts/ha-ctl.sh kill-etcd HOST      SIGKILL the etcd member of db HOST
#   scripts/ha-ctl.sh start-etcd HOST     start it again
#   scripts/ha-ctl.sh switchover [HOST]   planned switchover to HOST (default:
#                                         the synchronous standby)
#   scripts/ha-ctl.sh patronictl ARGS...  patronictl on the cluster (e.g. list, history)
#   scripts/ha-ctl.sh psql HOST ARGS...   psql as postgres on HOST's own socket
#   scripts/ha-ctl.sh render HOST         (re)write HOST's configuration files
#                                         into HA_DIR/HOST/conf (real hosts: docs/ha.md)
#
# HOST is one of db1 db2 db3 app1 app2 lb client. HA_DIR as for ha-up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/ha-common.sh
. scripts/lib/ha-common.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-net.sh
. scripts/lib/ha-net.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-services.sh
. scripts/lib/ha-services.sh

cmd=${1:-}
[ -n "$cmd" ] || { usage >&2; exit 2; }
shift
case $cmd in -h|--help) usage; exit 0 ;; esac
[ "$(id -u)" = 0 ] || die "run as root"

host_arg() {
  local h=${1:-}
  [[ " $HA_HOSTS " == *" $h "* ]] || die "$cmd: HOST must be one of $HA_HOSTS, got '$h'"
  if [ -n "${2:-}" ] && [[ $h != $2* ]]; then die "$cmd: $h is not a ${2} host"; fi
}

patronictl_cmd() {
  local h
  for h in $HA_DB_HOSTS; do
    if [ -r "$(ha_host_dir "$h")/conf/patroni.yml" ]; then
      patronictl -c "$(ha_host_dir "$h")/conf/patroni.yml" "$@"
      return
    fi
  done
  die "no Patroni configuration in $HA_DIR"
}

status() {
  local h s state rc=0
  for h in $HA_HOSTS; do
    state=""
    for s in $(ha_services "$h"); do
      if ha_running "$h" "$s"; then state+=" $s:up"; else state+=" $s:DOWN"; rc=1; fi
    done
    ha_is_isolated "$h" && { state+=" link:CUT"; rc=1; }
    printf '%-7s %-15s%s\n' "$h" "$(ha_addr "$h")" "$state"
  done
  echo "---- patroni"
  patronictl_cmd list 2>&1 | sed 's/^/  /' || rc=1
  echo "---- haproxy: the db hosts each app host sends to"
  for h in $HA_APP_HOSTS; do
    echo "  $h: $(ha_haproxy_up "$h" | tr '\n' ' ')"
  done
  echo "---- nginx: /readyz through lb: $(ha_http_code "http://$HA_LB:$HA_LB_PORT/readyz")"
  return "$rc"
}

if [ "$cmd" = render ]; then
  host_arg "${1:-}"
  ha_load || ha_defaults
  mkdir -p "$HA_DIR/secrets" && chmod 700 "$HA_DIR/secrets"
  for s in pg-superuser pg-replication pg-rewind auth-db jwt-secret; do ha_new_secret "$s"; done
  ha_render_host "$1"
  info "rendered the files of $1 into $HA_DIR/$1"
  exit 0
fi
ha_load || die "no HA stack in ${HA_DIR:-/tmp/auth-ha} (scripts/ha-up.sh)"

case $cmd in
  status) status ;;
  env)
    for v in HA_DIR HA_PREFIX HA_NET HA_APP_REPLICAS HA_LB_PORT HA_APP_PORT_BASE HA_PG_PORT HA_PATRONI_PORT; do
      echo "$v=${!v}"
    done
    for h in $HA_HOSTS; do echo "HOST_$h=$(ha_addr "$h")"; done
    echo "PG_UID=$(id -u "$(ha_pg_user)")"
    echo "PG_GID=$(id -g "$(ha_pg_user)")"
    ;;
  leader) ha_leader || die "no primary" ;;
  kill-host) host_arg "${1:-}"; ha_kill_host "$1"; info "$1: every process killed" ;;
  start-host) host_arg "${1:-}"; ha_start_host "$1"; info "$1: started" ;;
  isolate) host_arg "${1:-}"; ha_isolate "$1"; info "$1: link cut" ;;
  reconnect) host_arg "${1:-}"; ha_reconnect "$1"; info "$1: link restored" ;;
  kill-etcd)
    host_arg "${1:-}" db
    pid=$(pid_of_ours "$(ha_pidfile "$1" etcd)" "$(ha_exe etcd)") || die "etcd on $1 is not running"
    kill -s KILL "$pid"
    info "$1: etcd (pid $pid) killed"
    ;;
  start-etcd) host_arg "${1:-}" db; ha_start_etcd "$1"; info "$1: etcd started" ;;
  etcd-lead)
    host_arg "${1:-}" db
    id=$(ETCDCTL_API=3 etcdctl --endpoints "$(ha_etcd_endpoints)" member list \
      | awk -F', ' -v n="$1" '$3 == n { print $1 }')
    [ -n "$id" ] || die "no etcd member named $1"
    ETCDCTL_API=3 etcdctl --endpoints "$(ha_etcd_endpoints)" move-leader "$id" >/dev/null 2>&1 \
      || ETCDCTL_API=3 etcdctl --endpoints "$(ha_etcd_endpoints)" endpoint status | grep -q "$id, .*, true," \
      || die "could not move etcd's leadership to $1"
    info "$1: etcd leader"
    ;;
  switchover)
    leader=$(ha_leader) || die "no primary to switch over from"
    args=(--leader "$leader" --force)
    if [ -n "${1:-}" ]; then host_arg "$1" db; args+=(--candidate "$1"); fi
    patronictl_cmd switchover "${args[@]}" auth
    ;;
  patronictl) patronictl_cmd "$@" ;;
  psql) host_arg "${1:-}" db; h=$1; shift; ha_psql "$h" "$@" ;;
  *) die "unknown command '$cmd' (see --help)" ;;
esac
