-- The request (its X-Request-Id, set by the trusted proxy) that retired the
-- token. When the replica handling a refresh dies after committing, nginx
-- resends the same request, with the same id, to another replica; that is the
-- same presentation, not a reuse, and gets the successor token again.
ALTER TABLE refresh_tokens ADD COLUMN retired_by_request VARCHAR(64);
