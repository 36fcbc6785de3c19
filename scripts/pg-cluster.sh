#!/usr/bin/env bash
# pg-cluster.sh — a throwaway PostgreSQL cluster on loopback, for tests and the
# local stack.
#
#   scripts/pg-cluster.sh start DIR [PORT]   initdb (first time) + start; prints the URL
#   scripts/pg-cluster.sh stop DIR           fast shutdown of that cluster only
#   scripts/pg-cluster.sh url DIR            the URL of a running cluster
#
# PostgreSQL refuses to run as root, so when run as root the server runs as the
# `postgres` system user (created by Debian's postgresql packages). The cluster
# trusts local connections on 127.0.0.1 only; it is for tests, never production.
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 1; }

pg_bin() {
  local d
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found (apt-get install postgresql-15)"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then die "usage: $0 start|stop|url DIR [PORT]"; fi
BIN=$(pg_bin)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"

case $cmd in
  start)
    port=${3:-55432}
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the server as (apt-get install postgresql-15)"
      chown postgres: "$dir"
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
      as_owner "$BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      echo "pg-cluster: already running in $dir" >&2
    else
      echo "$port" > "$dir/port"
      as_owner "$BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null || { tail -n 20 "$dir/server.log" >&2; die "the server did not start"; }
    fi
    echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  stop)
    if [ -s "$data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  url)
    [ -s "$dir/port" ] || die "no cluster in $dir"
    echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  *) die "unknown command '$cmd' (start, stop, url)" ;;
esac
