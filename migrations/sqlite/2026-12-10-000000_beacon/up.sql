-- See migrations/mysql: the beacon an event is drawn with, and what its
-- draw fixed and used.
ALTER TABLE events ADD COLUMN beacon_chain TEXT;
ALTER TABLE events ADD COLUMN beacon_round BIGINT;
ALTER TABLE events ADD COLUMN participants_hash TEXT;
ALTER TABLE events ADD COLUMN beacon_fixed_at TIMESTAMP;
ALTER TABLE events ADD COLUMN beacon_signature TEXT;
