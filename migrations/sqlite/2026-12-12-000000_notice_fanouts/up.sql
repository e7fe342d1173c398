-- A fan-out of notices: see the MySQL migration of the same name.
CREATE TABLE notice_fanouts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id BIGINT NOT NULL REFERENCES events(id),
  kind SMALLINT NOT NULL,
  after_participant BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMP NOT NULL,
  UNIQUE (event_id, kind)
);
