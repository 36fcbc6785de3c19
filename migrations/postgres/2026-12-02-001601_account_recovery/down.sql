DROP TABLE mail_outbox;
DROP INDEX users_email_lower_idx;
ALTER TABLE users DROP COLUMN email_verified;
