# shellcheck shell=bash
# The processes of each HA host: configuration rendered from deploy/ha/,
# start (spawn from proc.sh, inside the host's namespace, as an
# unprivileged user for the database side) and stop by pid file. Sourced
# after ha-common.sh.

# ha_render_host HOST: HOST's configuration into HOST/conf.
ha_render_host() {
  local h=$1 dir addr conf
  dir=$(ha_host_dir "$h") addr=$(ha_addr "$h")
  conf=$dir/conf
  mkdir -p "$conf" "$dir/run" "$dir/logs" "$dir/data"
  case $h in
    db*)
      ha_render etcd.yml "$conf/etcd.yml" "NAME=$h" "ADDR=$addr" "DATA=$dir/data" \
        "ETCD_CLUSTER=$(ha_etcd_cluster)"
      ha_render patroni.yml "$conf/patroni.yml" "NAME=$h" "ADDR=$addr" "DATA=$dir/data" \
        "ETCD_HOSTS=$(ha_etcd_hosts)" "PG_BIN=$(ha_pg_bin)" \
        "SUPERUSER_PASSWORD=$(ha_secret pg-superuser)" \
        "REPLICATION_PASSWORD=$(ha_secret pg-replication)" \
        "REWIND_PASSWORD=$(ha_secret pg-rewind)"
      mkdir -p "$dir/data/etcd" "$dir/data/pg"
      chmod 700 "$dir/data/etcd" "$dir/data/pg"
      ha_own "$(ha_etcd_user)" "$dir/data/etcd" "$conf/etcd.yml"
      ha_own "$(ha_pg_user)" "$dir/data/pg" "$conf/patroni.yml"
      ;;
    app*)
      ha_render haproxy.cfg "$conf/haproxy.cfg" "STATS_PORT=$((HA_PRIMARY_PORT + 1))"
      ha_own haproxy "$conf/haproxy.cfg"
      ha_render app.env "$conf/app.env" "LB=$HA_LB" "DATA=$dir" \
        "AUTH_DB_PASSWORD=$(ha_secret auth-db)" "JWT_SECRET=$(ha_secret jwt-secret)"
      ;;
    lb)
      local servers="" a n
      for a in $HA_APP_HOSTS; do
        for n in $(seq 1 "$HA_APP_REPLICAS"); do
          servers+="server $(ha_addr "$a"):$(ha_app_port "$n") max_fails=1 fail_timeout=5s;"$'\n'
        done
      done
      mkdir -p "$dir/nginx/conf/deploy"
      cp "$HA_ROOT/nginx/nginx.conf" "$HA_ROOT/nginx/headers.conf" "$dir/nginx/conf/"
      # The demo page (/demo/: `alias demo/`, under nginx's -p prefix).
      mkdir -p "$dir/nginx/demo"
      cp "$HA_ROOT"/web/demo/index.html "$HA_ROOT"/web/demo/demo.js "$HA_ROOT"/web/demo/demo.css "$dir/nginx/demo/"
      chmod 644 "$dir"/nginx/demo/*
      ha_render nginx/servers.conf "$dir/nginx/conf/deploy/servers.conf" "APP_SERVERS=${servers%$'\n'}"
      ha_render nginx/listen.conf "$dir/nginx/conf/deploy/listen.conf"
      chmod 644 "$dir"/nginx/conf/deploy/*.conf
      ;;
  esac
}

# ha_own USER PATH...: give PATHs to the service user that reads them; when
# rendering for real hosts on a machine without that user, the files stay
# as they are (the hosts' own users take them over there).
ha_own() {
  local user=$1
  shift
  if id "$user" >/dev/null 2>&1; then chown -R "$user:" "$@"; fi
}

ha_etcd_cluster() {
  local h out=""
  for h in $HA_DB_HOSTS; do out+="$h=http://$(ha_addr "$h"):$HA_ETCD_PEER_PORT,"; done
  echo "${out%,}"
}

ha_etcd_hosts() {
  local h out=""
  for h in $HA_DB_HOSTS; do out+="$(ha_addr "$h"):$HA_ETCD_CLIENT_PORT,"; done
  echo "${out%,}"
}

ha_etcd_endpoints() {
  local h out=""
  for h in $HA_DB_HOSTS; do out+="http://$(ha_addr "$h"):$HA_ETCD_CLIENT_PORT,"; done
  echo "${out%,}"
}

ha_pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found (apt-get install postgresql-15)"
}

# ha_spawn HOST NAME CMD...: start CMD on HOST with its pid file and log.
ha_spawn() {
  local h=$1 name=$2 dir
  shift 2
  dir=$(ha_host_dir "$h")
  echo "==== $(date -u +%FT%TZ) ha: starting $name on $h" >>"$dir/logs/$name.log"
  RUN_DIR=$dir/run spawn "$(ha_pidfile "$h" "$name")" "$dir/logs/$name.log" "$dir/logs/$name.log" \
    ip netns exec "$(ha_ns "$h")" "$@" || warn "$name on $h exited at once (log: $dir/logs/$name.log)"
}

# What each service runs, for pid_of_ours (a pid file whose process runs
# something else is stale).
ha_exe() {
  case $1 in
    etcd) command -v etcd ;;
    patroni) readlink -f "$(sed -n '1s/^#! *//p' "$(command -v patroni)")" ;;
    haproxy) command -v haproxy ;;
    nginx) echo "$NGINX_BIN" ;;
    app-*) echo "$HA_BIN_DIR/app-server" ;;
  esac
}

# ha_priv USER: the command prefix that runs a program as USER (setpriv
# execs, so the pid spawn records is the program's own).
ha_priv() { echo "setpriv --reuid=$1 --regid=$(id -g "$1") --init-groups --"; }

ha_start_etcd() {
  local priv
  read -ra priv <<<"$(ha_priv "$(ha_etcd_user)")"
  ha_spawn "$1" etcd "${priv[@]}" etcd --config-file "$(ha_host_dir "$1")/conf/etcd.yml"
}

ha_start_patroni() {
  local priv
  read -ra priv <<<"$(ha_priv "$(ha_pg_user)")"
  ha_spawn "$1" patroni "${priv[@]}" env HOME="$(ha_host_dir "$1")/data/pg" \
    patroni "$(ha_host_dir "$1")/conf/patroni.yml"
}

ha_start_haproxy() {
  local priv
  read -ra priv <<<"$(ha_priv haproxy)"
  ha_spawn "$1" haproxy "${priv[@]}" haproxy -db -f "$(ha_host_dir "$1")/conf/haproxy.cfg"
}

# ha_start_app HOST N: replica N of HOST, its settings exported from
# HOST/conf/app.env (secrets never on a command line).
ha_start_app() {
  local h=$1 n=$2 kv
  (
    for kv in $(compgen -e); do case $kv in AUTH_*|DATABASE_URL|RUST_LOG|NGINX) unset "$kv" ;; esac; done
    while IFS= read -r kv; do
      [[ $kv =~ ^[A-Z_]+= ]] && export "${kv%%=*}=${kv#*=}"
    done <"$(ha_host_dir "$h")/conf/app.env"
    AUTH_BIND="$(ha_addr "$h"):$(ha_app_port "$n")"
    export AUTH_BIND
    ha_spawn "$h" "app-$n" "$HA_BIN_DIR/app-server" serve
  )
}

ha_start_nginx() {
  local out
  NGINX_PREFIX=$(ha_host_dir lb)/nginx
  # shellcheck disable=SC2034  # read by nginx_args (nginx.sh)
  NGINX_CONF=$NGINX_PREFIX/conf/nginx.conf
  nginx_args
  # Tested inside lb: its listen address exists only there.
  out=$(in_ns lb "${NGINX_ARGS[@]}" -t -q 2>&1) || { echo "$out" >&2; die "nginx -t failed for $NGINX_CONF"; }
  nginx_args " daemon off;"
  ha_spawn lb nginx "${NGINX_ARGS[@]}"
}

# ha_haproxy_up HOST: the db hosts HAProxy on app HOST may send to: UP, and
# also "UP 1/2" (one check failed of the two that take it out: still in use).
ha_haproxy_up() {
  in_ns "$1" curl -s --max-time 2 "http://127.0.0.1:$((HA_PRIMARY_PORT + 1))/;csv" 2>/dev/null \
    | awk -F, '$1 == "primary" && $2 ~ /^db/ && $18 ~ /^UP/ { print $2 }'
}

# ha_haproxy_follows HOST: HAProxy on HOST sends to the primary only. Right
# after its start it takes every server for up until `fall` checks failed:
# migrate, or a replica started then, could meet a standby.
ha_haproxy_follows() {
  local leader
  leader=$(ha_leader) || return 1
  [ "$(ha_haproxy_up "$1")" = "$leader" ]
}

# ha_start_host HOST: every service of HOST (a host booting); app replicas
# once HAProxy follows the primary.
ha_start_host() {
  local n
  case $1 in
    db*) ha_start_etcd "$1"; ha_start_patroni "$1" ;;
    app*)
      ha_start_haproxy "$1"
      ha_wait "$HA_WAIT" "HAProxy on $1 following the primary" ha_haproxy_follows "$1" || return 1
      for n in $(seq 1 "$HA_APP_REPLICAS"); do ha_start_app "$1" "$n"; done
      ;;
    lb) ha_start_nginx ;;
    client) ;;
  esac
}

# ha_services HOST: the pid-file names of HOST's services, in stop order.
ha_services() {
  case $1 in
    db*) echo "patroni etcd" ;;
    app*) echo "$(seq -f 'app-%g' 1 "$HA_APP_REPLICAS" | tr '\n' ' ')haproxy" ;;
    lb) echo nginx ;;
  esac
}

# ha_stop_host HOST: stop HOST's services by pid file (graceful, then KILL
# after a timeout). Patroni stops its PostgreSQL itself.
ha_stop_host() {
  local h=$1 s sig
  for s in $(ha_services "$h"); do
    case $s in nginx) sig=QUIT ;; *) sig=TERM ;; esac
    stop_pidfile "$s on $h" "$(ha_pidfile "$h" "$s")" "$(ha_exe "$s")" "$sig" 30
  done
}

ha_running() { pid_of_ours "$(ha_pidfile "$1" "$2")" "$(ha_exe "$2")" >/dev/null; }
