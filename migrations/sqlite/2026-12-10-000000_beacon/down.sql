ALTER TABLE events DROP COLUMN beacon_signature;
ALTER TABLE events DROP COLUMN beacon_fixed_at;
ALTER TABLE events DROP COLUMN participants_hash;
ALTER TABLE events DROP COLUMN beacon_round;
ALTER TABLE events DROP COLUMN beacon_chain;
