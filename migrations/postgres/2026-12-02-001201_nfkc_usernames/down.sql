-- Normalized usernames stay normalized: their original spelling is not kept.
SELECT 1;
