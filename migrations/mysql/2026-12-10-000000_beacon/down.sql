ALTER TABLE events
  DROP COLUMN beacon_chain,
  DROP COLUMN beacon_round,
  DROP COLUMN participants_hash,
  DROP COLUMN beacon_fixed_at,
  DROP COLUMN beacon_signature;
