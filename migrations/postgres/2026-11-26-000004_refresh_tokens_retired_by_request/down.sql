ALTER TABLE refresh_tokens DROP COLUMN retired_by_request;
