-- Failed-login counters per fixed window, shared by every app-server replica.
-- scope is 'username' or 'address'.
CREATE TABLE login_failures (
    scope VARCHAR(16) NOT NULL,
    subject TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX login_failures_window_start_idx ON login_failures (window_start);
