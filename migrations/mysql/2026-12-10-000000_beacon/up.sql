-- Draws with public randomness (docs/FAIRNESS.md, "Beacon draws").
--   beacon_chain: the drand chain's hash (hex) an event created while a
--     beacon was configured is drawn with; NULL: the seed alone.
--   beacon_round, participants_hash, beacon_fixed_at: written together,
--     once, when the draw starts (the list is fixed from then on): the
--     first round published after beacon_fixed_at, and SHA-256 of the
--     participants' ids in ascending order (8 bytes big-endian each).
--   beacon_signature: the round's signature (hex), verified with the
--     chain's key, written with the draw; its SHA-256 is the randomness.
ALTER TABLE events
  ADD COLUMN beacon_chain CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN beacon_round BIGINT NULL,
  ADD COLUMN participants_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN beacon_fixed_at DATETIME(6) NULL,
  ADD COLUMN beacon_signature VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NULL;
