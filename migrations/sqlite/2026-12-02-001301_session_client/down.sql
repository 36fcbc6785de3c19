ALTER TABLE sessions DROP COLUMN last_refreshed_at;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN user_agent;
