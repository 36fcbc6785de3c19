-- The local stack's `auth` role and database (scripts/lib/pg.sh, db_setup).
-- psql runs it as the superuser, with the role's password given beforehand
-- on stdin as the psql variable pw: it never appears on a command line.
-- Idempotent.
SELECT 'CREATE ROLE auth LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auth')\gexec
ALTER ROLE auth LOGIN PASSWORD :'pw';
-- The test cluster runs with synchronous_commit=off (pg-cluster.sh); the
-- app's role gets the production default back (a role setting beats the
-- server's command line).
ALTER ROLE auth SET synchronous_commit = on;
SELECT 'CREATE DATABASE auth OWNER auth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'auth')\gexec
