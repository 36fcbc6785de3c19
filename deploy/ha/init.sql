-- Run once on the new cluster's primary as the postgres superuser, with the
-- psql variable auth_password set: the app's role and database.
SELECT 'CREATE ROLE auth LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auth')\gexec
ALTER ROLE auth LOGIN PASSWORD :'auth_password';
SELECT 'CREATE DATABASE auth OWNER auth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'auth')\gexec
