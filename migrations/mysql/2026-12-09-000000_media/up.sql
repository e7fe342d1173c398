-- Uploaded images (docs/API.md, "Images"; docs/MEDIA.md). The bytes are in
-- the media store (LOTTERY_MEDIA_STORE) under keys made from the id; this
-- row says whose they are and whether WeChat's content check passed them.
--   id: opaque, random (docs/MEDIA.md, "Ids and keys").
--   status: 0 pending (shown to the uploader only), 1 approved,
--     2 rejected (shown to nobody; the bytes are deleted).
--   format: what was stored after re-encoding: jpeg or png.
--   bytes, thumb_bytes: the stored sizes (a user's quota counts them).
--   trace_id: WeChat's id of the asynchronous check, which its verdict
--     push names; label: WeChat's label of a refused image.
--   tries: how many times the check was asked (the media keeper asks
--     again when WeChat's verdict does not come).
--   checked_at: when the check was last asked (pending) or answered.
CREATE TABLE media (
  id VARCHAR(32) NOT NULL PRIMARY KEY,
  owner_id BIGINT NOT NULL,
  status SMALLINT NOT NULL,
  format VARCHAR(8) NOT NULL,
  width INT NOT NULL,
  height INT NOT NULL,
  bytes INT NOT NULL,
  thumb_bytes INT NOT NULL,
  trace_id VARCHAR(128) NULL,
  label INT NULL,
  tries SMALLINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  checked_at DATETIME(6) NULL,
  KEY media_owner (owner_id, created_at),
  UNIQUE KEY media_trace (trace_id),
  CONSTRAINT media_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The images an event shows: its cover, and each prize's picture. The
-- indexes find the events to update when an image's verdict arrives.
ALTER TABLE events ADD COLUMN cover_id VARCHAR(32) NULL, ADD KEY events_cover (cover_id);
ALTER TABLE prizes ADD COLUMN image_id VARCHAR(32) NULL, ADD KEY prizes_image (image_id);
