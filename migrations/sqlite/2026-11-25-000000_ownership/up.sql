-- See migrations/mysql: the owner's fencing token, and a table that
-- refuses every row so a stale owner's transaction fails.
ALTER TABLE events ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE ownership_fence (
    stale_owner BIGINT NOT NULL
);
