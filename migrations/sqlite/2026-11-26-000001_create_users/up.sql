-- Timestamps are TIMESTAMP holding UTC, as in the PostgreSQL migrations.
-- AUTOINCREMENT keeps ids of deleted users from ever being handed out again.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    username VARCHAR(150) NOT NULL,
    email VARCHAR(254),
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    date_joined TIMESTAMP NOT NULL,
    last_login TIMESTAMP,
    password_changed_at TIMESTAMP NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);
