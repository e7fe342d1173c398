-- The outbox of result notices: see the MySQL migration of the same name.
CREATE TABLE notices (
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
CREATE INDEX notices_due ON notices (state, due_at);
