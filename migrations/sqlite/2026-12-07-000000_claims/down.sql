CREATE TABLE notices_by_pair (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id BIGINT NOT NULL REFERENCES events(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  kind SMALLINT NOT NULL,
  state SMALLINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at TIMESTAMP NOT NULL,
  claim BIGINT,
  error TEXT,
  created_at TIMESTAMP NOT NULL,
  sent_at TIMESTAMP,
  UNIQUE (event_id, user_id)
);
INSERT INTO notices_by_pair SELECT * FROM notices WHERE kind <> 3;
DROP TABLE notices;
ALTER TABLE notices_by_pair RENAME TO notices;
CREATE INDEX notices_due ON notices (state, due_at);
DROP TABLE claims;
ALTER TABLE participants DROP COLUMN remind;
ALTER TABLE events DROP COLUMN rounds;
ALTER TABLE winners DROP COLUMN round;
