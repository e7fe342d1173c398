ALTER TABLE events DROP COLUMN claim_days, DROP COLUMN claim_mode, DROP COLUMN cancel_reason;
