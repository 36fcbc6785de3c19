#!/bin/sh
# Entrypoint of the local postgres stand-in (see the Dockerfile next to this
# file): the official image's first-start initialisation from POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB, then `postgres` as the postgres user.
set -eu

# `docker run IMAGE -c key=value`: options for postgres, as in the official image.
if [ "${1#-}" != "${1:-}" ]; then
  set -- postgres "$@"
fi
if [ "${1:-}" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  # The data volume may be new and root-owned: hand it to postgres, then drop
  # root for good (setpriv is util-linux's, in every Debian base).
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres stand-in: POSTGRES_PASSWORD is not set; the database is not initialised" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # initdb's default authentication, as in the official image: trust inside
  # the container (socket and loopback), passwords from anywhere else (below).
  initdb --username="$user" --pwfile="$pwfile" >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  # Passwords over the network from anywhere (the compose network), as the
  # official image's `host all all all scram-sha-256`.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # Socket only while initialising: nobody connects before it is ready.
    # The name goes in as a psql variable (quoted by psql), read from stdin:
    # psql does not interpolate variables in -c.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if ! echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 -v db="$db" --username "$user" --dbname postgres -q; then
      pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
      exit 1
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "postgres stand-in: initialised $PGDATA for user $user, database $db"
fi

exec "$@"
