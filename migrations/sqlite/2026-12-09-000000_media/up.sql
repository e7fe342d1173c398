-- See migrations/mysql: uploaded images, an event's cover, a prize's image.
CREATE TABLE media (
  id TEXT NOT NULL PRIMARY KEY,
  owner_id BIGINT NOT NULL REFERENCES users (id),
  status SMALLINT NOT NULL,
  format TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  thumb_bytes INTEGER NOT NULL,
  trace_id TEXT,
  label INTEGER,
  tries SMALLINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL,
  checked_at TIMESTAMP
);
CREATE INDEX media_owner ON media (owner_id, created_at);
CREATE UNIQUE INDEX media_trace ON media (trace_id);
ALTER TABLE events ADD COLUMN cover_id TEXT;
ALTER TABLE prizes ADD COLUMN image_id TEXT;
CREATE INDEX events_cover ON events (cover_id);
CREATE INDEX prizes_image ON prizes (image_id);
