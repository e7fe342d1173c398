-- See migrations/mysql: who may join, and a group-only event's groups.
ALTER TABLE events ADD COLUMN join_password TEXT;
ALTER TABLE events ADD COLUMN group_only BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN risk_check BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN min_participants INTEGER;
CREATE TABLE event_groups (
  event_id BIGINT NOT NULL REFERENCES events (id),
  opengid TEXT NOT NULL,
  bound_at TIMESTAMP NOT NULL,
  PRIMARY KEY (event_id, opengid)
);
CREATE TABLE join_tries (
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  wrong SMALLINT NOT NULL,
  PRIMARY KEY (event_id, user_id)
);
