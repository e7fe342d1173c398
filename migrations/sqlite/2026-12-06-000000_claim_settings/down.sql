ALTER TABLE events DROP COLUMN cancel_reason;
ALTER TABLE events DROP COLUMN claim_mode;
ALTER TABLE events DROP COLUMN claim_days;
