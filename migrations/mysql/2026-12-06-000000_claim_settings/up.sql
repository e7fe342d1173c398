-- Winner claims (docs/API.md, "Winner claims"): how long winners have to
-- claim (days) and what they give (0 address, 1 contact), set at creation;
-- why a cancelled event was cancelled (0 its creator, 1 too few
-- participants). Every event cancelled before this was its creator's.
ALTER TABLE events
    ADD COLUMN claim_days SMALLINT NOT NULL DEFAULT 7,
    ADD COLUMN claim_mode SMALLINT NOT NULL DEFAULT 0,
    ADD COLUMN cancel_reason SMALLINT NULL;
UPDATE events SET cancel_reason = 0 WHERE status = 9;
