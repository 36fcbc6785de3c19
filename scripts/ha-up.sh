#!/usr/bin/env bash
# ha-up.sh — the highly available stack on one machine (docs/ha.md): seven
# hosts as network namespaces on a bridge, with private test addresses only
# (deploy/ha/hosts.env; HA_NET replaces 10.77.0):
#   db1..db3   etcd member + Patroni + PostgreSQL 15 (synchronous_mode)
#   app1, app2 HAProxy following Patroni's leader + HA_APP_REPLICAS app-servers
#   lb         nginx, upstreams on both app hosts
#   client     nothing (the load generator of scripts/ha-test.sh runs there)
# This root namespace is the operator's host on that network (HA_OPERATOR).
#
#   scripts/ha-up.sh      start it; prints the URL (http://10.77.0.10:8080)
#
# As root (namespaces, and PostgreSQL runs as the postgres user). Installs
# patroni, etcd-server, etcd-client, haproxy and nginx-light from Debian's
# packages when missing. On any failure everything started is stopped and
# the namespaces are removed (HA_KEEP=1 keeps them, for debugging).
#
# Knobs: HA_DIR (/tmp/auth-ha), HA_PREFIX (ha: namespace and link names),
# HA_NET (10.77.0), HA_APP_REPLICAS (2), HA_WAIT (120 s per step),
# HA_BIN_DIR (target/release: app-server and migrate).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=lib/ha-common.sh
. scripts/lib/ha-common.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-net.sh
. scripts/lib/ha-net.sh
# shellcheck source-path=SCRIPTDIR source=lib/ha-services.sh
. scripts/lib/ha-services.sh

case ${1:-} in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) die "unexpected argument '$1' (see --help)" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root: network namespaces need it"
# The caller's AUTH_*, DATABASE_URL and RUST_LOG must not reach the replicas.
stack_scrub_env 'HA_*'
ha_defaults

# ---- packages and binaries. Their postinst scripts would start system-wide
# services where an init system runs (as nginx-light's would, see
# ensure_nginx); here none does, and ours run in the namespaces anyway.
need=()
command -v patroni >/dev/null 2>&1 || need+=(patroni)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
if [ ${#need[@]} -gt 0 ]; then
  info "installing ${need[*]} (Debian packages)"
  out=$(apt_install "${need[@]}" 2>&1) || { tail -n 5 <<<"$out" >&2; die "apt-get install ${need[*]} failed"; }
fi
ensure_nginx
ha_pg_bin >/dev/null
for b in app-server migrate; do
  [ -x "$HA_BIN_DIR/$b" ] || die "no $HA_BIN_DIR/$b (cargo build --release -p app-server -p migrate, or set HA_BIN_DIR)"
done

# ---- state
if ha_net_exists; then
  die "the namespaces or bridge of prefix '$HA_PREFIX' exist already (scripts/ha-down.sh, or another HA_PREFIX)"
fi
for h in $HA_HOSTS; do
  [ ! -e "$(ha_host_dir "$h")" ] || die "$HA_DIR holds a stack's state already (scripts/ha-down.sh --purge, or another HA_DIR)"
done
mkdir -p "$HA_DIR/secrets"
chmod 755 "$HA_DIR"
chmod 700 "$HA_DIR/secrets"
ha_save

failed() {
  local rc=$?
  trap - EXIT
  [ "$rc" = 0 ] && return 0
  if [ "${HA_KEEP:-0}" = 1 ]; then
    warn "start failed; HA_KEEP=1: left running in $HA_DIR (scripts/ha-down.sh to stop)"
  else
    warn "start failed; stopping what was started (logs kept in $HA_DIR)"
    HA_DIR=$HA_DIR scripts/ha-down.sh >&2 || true
  fi
  exit "$rc"
}
trap failed EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for s in pg-superuser pg-replication pg-rewind auth-db jwt-secret; do ha_new_secret "$s"; done
for h in $HA_HOSTS; do
  mkdir -p "$(ha_host_dir "$h")"
  chmod 755 "$(ha_host_dir "$h")"
  ha_render_host "$h"
done

# ---- network
info "network: bridge $(ha_bridge) ($HA_OPERATOR), hosts $HA_HOSTS on $HA_NETWORK"
ha_net_up

# ---- etcd: all three members at once (each waits for the others)
for h in $HA_DB_HOSTS; do ha_start_etcd "$h"; done
etcd_healthy() {
  ETCDCTL_API=3 etcdctl --endpoints "$(ha_etcd_endpoints)" --dial-timeout 2s endpoint health
}
ha_wait "$HA_WAIT" "etcd cluster healthy" etcd_healthy || die "etcd did not become healthy (logs: $HA_DIR/db*/logs/etcd.log)"
info "etcd: 3 members healthy"

# ---- Patroni: db1 bootstraps the cluster, then the others clone it
ha_start_patroni db1
ha_wait "$HA_WAIT" "db1 primary" ha_leader || die "no primary (log: $HA_DIR/db1/logs/patroni.log)"
for h in db2 db3; do ha_start_patroni "$h"; done
replicas_streaming() {
  local h
  for h in db2 db3; do
    [ "$(ha_http_code "http://$(ha_addr "$h"):$HA_PATRONI_PORT/replica")" = 200 ] || return 1
  done
  # synchronous_mode: one of them is the synchronous standby
  ha_get "http://$HA_DB1:$HA_PATRONI_PORT/cluster" | grep -q '"role": *"sync_standby"'
}
ha_wait "$HA_WAIT" "replicas streaming" replicas_streaming || die "the replicas did not join (logs: $HA_DIR/db*/logs/patroni.log)"
info "patroni: db1 primary, db2 and db3 streaming, one synchronous"

# ---- the app's role and database, on the primary
{ printf '\\set auth_password %s\n' "'$(ha_secret auth-db)'"; cat deploy/ha/init.sql; } \
  | ha_psql db1 -v ON_ERROR_STOP=1 -d postgres >/dev/null || die "could not create the auth role and database"

# ---- app hosts: HAProxy, migrations (once), replicas
for h in $HA_APP_HOSTS; do ha_start_haproxy "$h"; done
for h in $HA_APP_HOSTS; do
  ha_wait "$HA_WAIT" "HAProxy on $h following the primary" ha_haproxy_follows "$h" || die "HAProxy on $h does not find the primary"
done
# The URL (and its password) goes through the environment, never argv.
DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' "$(ha_host_dir app1)/conf/app.env")
export DATABASE_URL
through_haproxy() { in_ns app1 "$HA_BIN_DIR/migrate" status; }
ha_wait "$HA_WAIT" "the primary through HAProxy" through_haproxy || die "app1 cannot reach the primary through HAProxy"
(cd "$(ha_host_dir app1)/run" && in_ns app1 "$HA_BIN_DIR/migrate" >"$(ha_host_dir app1)/logs/migrate.log" 2>&1) \
  || { tail_log "$(ha_host_dir app1)/logs/migrate.log"; die "migrate failed"; }
unset DATABASE_URL
for h in $HA_APP_HOSTS; do
  for n in $(seq 1 "$HA_APP_REPLICAS"); do ha_start_app "$h" "$n"; done
done
apps_ready() {
  local h n
  for h in $HA_APP_HOSTS; do
    for n in $(seq 1 "$HA_APP_REPLICAS"); do
      [ "$(ha_http_code "http://$(ha_addr "$h"):$(ha_app_port "$n")/readyz")" = 200 ] || return 1
    done
  done
}
ha_wait "$HA_WAIT" "app replicas ready" apps_ready || die "app replicas not ready (logs: $HA_DIR/app*/logs/app-*.log)"
info "apps: $HA_APP_REPLICAS replica(s) on each of $HA_APP_HOSTS, ready"

# ---- lb
ha_start_nginx
lb_ready() { [ "$(ha_http_code "http://$HA_LB:$HA_LB_PORT/readyz")" = 200 ]; }
ha_wait 30 "nginx" lb_ready || die "nginx on lb does not answer (log: $HA_DIR/lb/logs/nginx.log)"

trap - EXIT
info "up: http://$HA_LB:$HA_LB_PORT (state: $HA_DIR; scripts/ha-ctl.sh status; scripts/ha-down.sh)"
echo "http://$HA_LB:$HA_LB_PORT"
