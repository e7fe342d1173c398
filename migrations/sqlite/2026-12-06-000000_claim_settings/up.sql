-- See migrations/mysql: the claim settings and the cancel reason.
ALTER TABLE events ADD COLUMN claim_days SMALLINT NOT NULL DEFAULT 7;
ALTER TABLE events ADD COLUMN claim_mode SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN cancel_reason SMALLINT;
UPDATE events SET cancel_reason = 0 WHERE status = 9;
