ALTER TABLE users DROP COLUMN registered_by_request;
