-- What a user sees of their sessions: the client that logged in (its
-- User-Agent, cut to 256 characters, and its address as throttling takes it)
-- and when the session last refreshed. Null for sessions opened before.
ALTER TABLE sessions ADD COLUMN user_agent VARCHAR(256);
ALTER TABLE sessions ADD COLUMN ip VARCHAR(45);
ALTER TABLE sessions ADD COLUMN last_refreshed_at TIMESTAMP;
