# shellcheck shell=bash
# Shared settings and helpers of scripts/ha-up.sh, ha-down.sh, ha-ctl.sh and
# ha-test.sh: the highly available stack (docs/ha.md), its hosts simulated on
# one machine as network namespaces on a bridge. Sourced, never run.
#
# The generic helpers come from the loopback stack's library: common.sh
# (apt_install, usage, tail_log), proc.sh (spawn, pid files, stop_pidfile),
# settings.sh (stack_scrub_env) and nginx.sh (ensure_nginx, nginx_args), all
# sourced through nginx.sh.
#
# State lives in HA_DIR (default /tmp/auth-ha):
#   ha.env           the settings the stack was started with (ctl, down)
#   secrets/         database passwords and the JWT secret (0600)
#   HOST/conf/       the rendered configuration of each host
#   HOST/run/*.pid   "PID STARTTIME" of each process started on HOST
#   HOST/logs/       its logs
#   HOST/data/       its data (db hosts: etcd/, pg/; app hosts: the app's data dir)
#   netns            the namespaces and links made by ha-up (ha-down removes them)

HA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=nginx.sh
. "$HA_ROOT/scripts/lib/nginx.sh"

die() { echo "ha: error: $*" >&2; exit 1; }
info() { echo "ha: $*" >&2; }
warn() { echo "ha: warning: $*" >&2; }

HA_DB_HOSTS="db1 db2 db3"
HA_APP_HOSTS="app1 app2"
# shellcheck disable=SC2034  # used by the scripts that source this
HA_HOSTS="$HA_DB_HOSTS $HA_APP_HOSTS lb client"

# ha_defaults: every knob from the environment or its default.
ha_defaults() {
  HA_DIR=${HA_DIR:-/tmp/auth-ha}
  case $HA_DIR in /*) ;; *) HA_DIR=$PWD/$HA_DIR ;; esac
  HA_DIR=${HA_DIR%/}
  [ -n "$HA_DIR" ] || die "HA_DIR must not be /"
  HA_PREFIX=${HA_PREFIX:-ha}
  HA_NET=${HA_NET:-10.77.0}
  HA_APP_REPLICAS=${HA_APP_REPLICAS:-2}
  HA_WAIT=${HA_WAIT:-120}
  HA_BIN_DIR=${HA_BIN_DIR:-$HA_ROOT/target/release}
  case $HA_BIN_DIR in /*) ;; *) HA_BIN_DIR=$PWD/$HA_BIN_DIR ;; esac
  [[ $HA_PREFIX =~ ^[a-z][a-z0-9]{0,3}$ ]] || die "HA_PREFIX must be 1 to 4 lower-case letters or digits"
  [[ $HA_APP_REPLICAS =~ ^[1-9]$ ]] || die "HA_APP_REPLICAS must be 1 to 9"
  # Private test addresses only (RFC 1918): nothing else is ever a target.
  [[ $HA_NET =~ ^(10\.[0-9]{1,3}\.[0-9]{1,3}|172\.(1[6-9]|2[0-9]|3[01])\.[0-9]{1,3}|192\.168\.[0-9]{1,3})$ ]] \
    || die "HA_NET must be the first three octets of a private /24 (10.x.y, 172.16-31.y, 192.168.y), got '$HA_NET'"
  ha_hosts_env
  NGINX_BIN=$(readlink -f "$(command -v nginx || echo /usr/sbin/nginx)")
}

# ha_hosts_env: the addresses and ports of deploy/ha/hosts.env, with the
# 10.77.0 prefix replaced by HA_NET.
ha_hosts_env() {
  local line key value
  while IFS= read -r line; do
    [[ $line =~ ^(HA_[A-Z0-9_]+)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    printf -v "$key" '%s' "${value/#10.77.0./$HA_NET.}"
  done <"$HA_ROOT/deploy/ha/hosts.env"
}

ha_save() {
  local v
  {
    echo "# written by scripts/ha-up.sh; read by ha-ctl.sh and ha-down.sh"
    for v in HA_DIR HA_PREFIX HA_NET HA_APP_REPLICAS HA_WAIT HA_BIN_DIR; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$HA_DIR/ha.env"
}

# ha_load: the settings of the stack in HA_DIR; returns 1 when there is none.
ha_load() {
  HA_DIR=${HA_DIR:-/tmp/auth-ha}
  [ -f "$HA_DIR/ha.env" ] || return 1
  # shellcheck source=/dev/null
  . "$HA_DIR/ha.env"
  ha_defaults
}

ha_ns() { echo "$HA_PREFIX-$1"; }
ha_link() { echo "$HA_PREFIX-$1"; }
ha_bridge() { echo "$HA_PREFIX-br"; }
ha_host_dir() { echo "$HA_DIR/$1"; }
ha_pidfile() { echo "$HA_DIR/$1/run/$2.pid"; }

# ha_addr HOST: its address (db1 -> HA_DB1, ...).
ha_addr() {
  local v
  v=HA_$(tr '[:lower:]' '[:upper:]' <<<"$1")
  [ -n "${!v:-}" ] || die "unknown host '$1'"
  echo "${!v}"
}

ha_app_port() { echo $((HA_APP_PORT_BASE + $1)); }

# in_ns HOST CMD...: run CMD on HOST (inside its network namespace).
in_ns() {
  local host=$1
  shift
  ip netns exec "$(ha_ns "$host")" "$@"
}

# as_user USER CMD...: CMD as USER.
as_user() {
  local user=$1
  shift
  setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# The unprivileged users of the db processes (PostgreSQL refuses root).
ha_pg_user() { echo postgres; }
ha_etcd_user() { if id etcd >/dev/null 2>&1; then echo etcd; else echo postgres; fi; }

ha_secret() { cat "$HA_DIR/secrets/$1"; }

# ha_new_secret NAME: a random hex secret, made once (0600).
ha_new_secret() {
  local f=$HA_DIR/secrets/$1
  [ -s "$f" ] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f")
}

# ha_render TEMPLATE OUT [KEY=VALUE...]: deploy/ha/TEMPLATE with every
# @KEY@ replaced, from the pairs given and the topology; fails on a
# placeholder left over. OUT is made 0600 (some hold passwords).
ha_render() {
  local template=$HA_ROOT/deploy/ha/$1 out=$2 kv key value script=
  shift 2
  local pairs=("$@"
    "LB=$HA_LB" "DB1=$HA_DB1" "DB2=$HA_DB2" "DB3=$HA_DB3" "NET_CIDR=$HA_NETWORK"
    "LB_PORT=$HA_LB_PORT" "PRIMARY_PORT=$HA_PRIMARY_PORT" "PG_PORT=$HA_PG_PORT"
    "PATRONI_PORT=$HA_PATRONI_PORT" "ETCD_CLIENT_PORT=$HA_ETCD_CLIENT_PORT"
    "ETCD_PEER_PORT=$HA_ETCD_PEER_PORT")
  for kv in "${pairs[@]}"; do
    key=${kv%%=*} value=${kv#*=}
    value=${value//\\/\\\\} value=${value//|/\\|} value=${value//&/\\&} value=${value//$'\n'/\\n}
    script+="s|@$key@|$value|g;"
  done
  (umask 077 && sed -e "$script" "$template" >"$out")
  if grep -q '@[A-Z0-9_]*@' "$out"; then
    die "$out: placeholder(s) left: $(grep -o '@[A-Z0-9_]*@' "$out" | sort -u | tr '\n' ' ')"
  fi
}

# ha_get URL: the body of a GET from the operator's address (the bridge),
# nothing when nobody answers within 2 s.
ha_get() { curl -s --max-time 2 "$1" 2>/dev/null || true; }

# ha_http_code URL: the status of a GET from the operator's address, 000
# when nothing answers.
ha_http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}

# ha_wait SECONDS WHAT CMD...: run CMD every half second until it succeeds.
ha_wait() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { warn "$what: not within ${limit}s"; return 1; }
    sleep 0.5
  done
}

# ha_patroni_role HOST: the role Patroni's REST API on HOST reports
# (primary, replica, ...), or "down".
ha_patroni_role() {
  local body
  body=$(ha_get "http://$(ha_addr "$1"):$HA_PATRONI_PORT/patroni")
  if [[ $body =~ \"role\":\ *\"([a-z_]+)\" ]]; then echo "${BASH_REMATCH[1]}"; else echo down; fi
}

# ha_leader: the db host whose Patroni answers 200 on /primary, if any.
ha_leader() {
  local h
  for h in $HA_DB_HOSTS; do
    if [ "$(ha_http_code "http://$(ha_addr "$h"):$HA_PATRONI_PORT/primary")" = 200 ]; then
      echo "$h"
      return 0
    fi
  done
  return 1
}

# ha_psql HOST ARGS...: psql as the postgres superuser on HOST's own socket
# (works whatever the network does: the socket is a file).
ha_psql() {
  local host=$1
  shift
  as_user "$(ha_pg_user)" psql -X -q -h "$(ha_host_dir "$host")/data/pg" -p "$HA_PG_PORT" -U postgres "$@"
}
