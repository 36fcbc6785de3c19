# shellcheck shell=bash source-path=SCRIPTDIR source-path=SCRIPTDIR/lib
# pg.sh — the stack's PostgreSQL: the cluster in PG_DIR on STACK_PG_PORT
# (scripts/pg-cluster.sh), the app's `auth` role and database, psql as that
# role. Reads the settings of settings.sh. Sourced, never run.
[ -z "${_STACK_LIB_PG:-}" ] || return 0
_STACK_LIB_PG=1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

pg_ctl_script() { "$STACK_ROOT/scripts/pg-cluster.sh" "$@"; }

start_db() {
  local url
  url=$(pg_ctl_script start "$PG_DIR" "$STACK_PG_PORT") || die "PostgreSQL did not start (log: $PG_DIR/server.log)"
  PG_SUPERUSER_URL=$url
}

stop_db() {
  if [ -s "$PG_DIR/data/PG_VERSION" ]; then
    pg_ctl_script stop "$PG_DIR" || warn "PostgreSQL did not stop cleanly (log: $PG_DIR/server.log)"
  fi
}

# db_running: the stack's postmaster runs (its pid file names a live postgres).
db_running() {
  local pid=
  [ -s "$PG_DIR/data/postmaster.pid" ] || return 1
  read -r pid <"$PG_DIR/data/postmaster.pid" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  case $(proc_exe "$pid" 2>/dev/null) in */postgres) return 0 ;; *) return 1 ;; esac
}

# db_setup: the `auth` role (with a password, checked by scram-sha-256 over
# TCP, like a real deployment) and its `auth` database (auth-role.sql); sets
# DATABASE_URL. pg-cluster.sh's cluster trusts every local connection, so a
# pg_hba line for the role goes first. Without psql the superuser URL is used.
# The test cluster runs with synchronous_commit=off (speed; pg-cluster.sh),
# which acknowledges commits before their WAL is written: a crash of
# PostgreSQL then loses them (a rotated refresh token answered 200 comes
# back unknown, a user answered 201 is gone). auth-role.sql gives the app's
# role the production default back.
db_setup() {
  local pwfile=$STACK_DIR/db-password pw hba=$PG_DIR/data/pg_hba.conf
  if ! command -v psql >/dev/null 2>&1; then
    warn "psql not found: the app connects as the postgres superuser"
    DATABASE_URL=$PG_SUPERUSER_URL
    return
  fi
  if [ ! -s "$pwfile" ]; then
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pwfile")
  fi
  pw=$(cat "$pwfile")
  # The password reaches psql on stdin (\set), never on its command line.
  { printf '\\set pw %s\n' "'$pw'"
    cat "$STACK_ROOT/scripts/lib/auth-role.sql"
  } | psql -X -q -v ON_ERROR_STOP=1 -d "$PG_SUPERUSER_URL" >/dev/null \
    || die "could not create the auth role and database"
  if ! grep -q '^# auth-stack' "$hba"; then
    # Rewrite in place (cat >), so the file keeps its owner (postgres when the
    # cluster runs as that user) and mode.
    { echo "# auth-stack: the app's role must present its password"
      echo "host all auth 127.0.0.1/32 scram-sha-256"
      cat "$hba"; } >"$hba.new"
    cat "$hba.new" >"$hba"
    rm -f "$hba.new"
    psql -X -q -d "$PG_SUPERUSER_URL" -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  DATABASE_URL="postgres://auth:$pw@127.0.0.1:$STACK_PG_PORT/auth"
  (auth_psql_env && psql -X -q -d "$AUTH_PSQL_URL" -c 'SELECT 1' >/dev/null 2>&1) \
    || die "cannot log in as the auth role (postgres://auth:***@127.0.0.1:$STACK_PG_PORT/auth)"
}

# auth_psql_env: what psql needs to connect as the app's role without the
# password on its command line (readable by every user of the machine, unlike
# the environment): PGPASSWORD exported, AUTH_PSQL_URL set to DATABASE_URL
# without the password (taken verbatim: the stack's is hex, nothing to
# percent-decode).
auth_psql_env() {
  AUTH_PSQL_URL=$DATABASE_URL
  if [[ $DATABASE_URL =~ ^([a-z]+://[^:@/]*):([^@/]*)@(.*)$ ]]; then
    AUTH_PSQL_URL=${BASH_REMATCH[1]}@${BASH_REMATCH[3]}
    export PGPASSWORD=${BASH_REMATCH[2]}
  fi
}
