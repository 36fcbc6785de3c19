-- A session is one refresh-token family: opened by a login, revoked as a whole.
CREATE TABLE sessions (
    id VARCHAR(32) PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    -- absolute limit: no token of the family outlives it, however often refreshed
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason VARCHAR(32)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- One row per refresh token ever issued, keyed by its jti (never the token itself).
-- used_at set means retired by a rotation: presenting it again is reuse.
CREATE TABLE refresh_tokens (
    jti VARCHAR(32) PRIMARY KEY NOT NULL,
    session_id VARCHAR(32) NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    replaced_by VARCHAR(32)
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
