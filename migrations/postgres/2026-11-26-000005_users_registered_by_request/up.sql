-- The request (its X-Request-Id, set by the trusted proxy) that registered the
-- user. When the replica handling a registration dies after committing, nginx
-- resends the same request, with the same id, to another replica; that is the
-- same registration, answered with the user it made, not a taken username.
ALTER TABLE users ADD COLUMN registered_by_request VARCHAR(64);
