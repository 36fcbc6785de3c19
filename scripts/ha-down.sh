#!/usr/bin/env bash
# ha-down.sh — stop the HA stack of scripts/ha-up.sh and remove its network
# namespaces, bridge and links.
#
#   scripts/ha-down.sh            stop (state and logs kept in HA_DIR)
#   scripts/ha-down.sh --purge    stop and delete HA_DIR
#
# Only what ha-up started is touched: processes by their pid files (nginx
# first, then the app tier, then Patroni, which stops its PostgreSQL, then
# etcd), and the namespaces and links listed in HA_DIR/netns. A process still
# inside one of those namespaces afterwards (one started there by hand, a
# PostgreSQL orphaned by a killed Patroni) belongs to that host and gets
# SIGKILL before its namespace goes. HA_DIR as for ha-up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/ha-common.sh
. scripts/lib/ha-common.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-net.sh
. scripts/lib/ha-net.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-services.sh
. scripts/lib/ha-services.sh

purge=0
case ${1:-} in
  -h|--help) usage; exit 0 ;;
  --purge) purge=1 ;;
  "") ;;
  *) die "unexpected argument '$1' (see --help)" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root"
if ! ha_load; then
  info "no HA stack in ${HA_DIR:-/tmp/auth-ha}"
  exit 0
fi

for h in lb $HA_APP_HOSTS $HA_DB_HOSTS; do
  [ -d "$(ha_host_dir "$h")/run" ] && ha_stop_host "$h"
done
for h in $HA_HOSTS; do
  ns=$(ha_ns "$h")
  ip netns list | grep -q "^$ns\( \|$\)" || continue
  left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  if [ -n "${left// /}" ]; then
    warn "$h: killing what is left inside $ns: $left"
    ha_kill_host "$h"
    sleep 0.5
  fi
done
ha_net_down
if [ "$purge" = 1 ]; then
  rm -rf "$HA_DIR"
  info "stopped; $HA_DIR deleted"
else
  rm -f "$HA_DIR/ha.env"
  info "stopped; logs kept in $HA_DIR (--purge deletes them)"
fi
