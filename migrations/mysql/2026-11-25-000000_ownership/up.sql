-- Cluster mode (docs/CLUSTER.md): the fencing token of the instance that
-- owns the event now. Activation raises it to the owner's etcd token;
-- every batch and draw step of an older owner then fails.
ALTER TABLE events ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0;

-- Never holds a row. A stale owner's transaction inserts NULL here (one
-- row per event whose owner_epoch is not its token), which the NOT NULL
-- refuses: the statement fails and the whole transaction rolls back, with
-- no extra round trip to read the epoch first.
CREATE TABLE ownership_fence (
    stale_owner BIGINT NOT NULL
) ENGINE = InnoDB;
