DROP TABLE ownership_fence;
ALTER TABLE events DROP COLUMN owner_epoch;
