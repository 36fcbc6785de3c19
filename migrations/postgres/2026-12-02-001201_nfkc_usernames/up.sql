-- Usernames are stored in their Unicode NFKC form (Django's normalize_username).
-- The rows are rewritten after this file by the migration runner, in Rust
-- (domain::migrations::run_pending; SQLite has no normalization function):
-- each where its NFKC form collides with nothing; `migrate` lists the others.
SELECT 1;
