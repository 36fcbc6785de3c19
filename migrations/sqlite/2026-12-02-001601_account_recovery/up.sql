-- Account recovery (issue 16): whether the user's address is proven, and the
-- outbox of mail to send.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT 0;
-- Password-reset and resend requests look addresses up case-insensitively.
CREATE INDEX users_email_lower_idx ON users (lower(email));

-- What to send, written in the same transaction as the change that causes it:
-- the user and the kind, never a token (the link is made when the message is
-- sent). user_id NULL: a request for an address nobody has, written so that
-- both answers do the same work, and born done.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    kind VARCHAR(32) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- the Message-ID's local part: the same on every attempt, so a receiver
    -- can drop a duplicate sent after a crash between the server's 250 and
    -- the commit that records it
    message_key VARCHAR(32) NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- not before: the retry's backoff, or the claim's lease
    available_at TIMESTAMP NOT NULL,
    claimed_by VARCHAR(64),
    last_error VARCHAR(200),
    done_at TIMESTAMP,
    -- sent, refused (a permanent SMTP error), expired, no_recipient, unknown_address
    outcome VARCHAR(16)
);
CREATE INDEX mail_outbox_pending_idx ON mail_outbox (available_at) WHERE done_at IS NULL;
CREATE INDEX mail_outbox_done_at_idx ON mail_outbox (done_at);
CREATE INDEX mail_outbox_user_id_idx ON mail_outbox (user_id);
