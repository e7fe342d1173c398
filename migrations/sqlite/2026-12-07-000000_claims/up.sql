-- See migrations/mysql: winner claims and the claim reminder.
ALTER TABLE winners ADD COLUMN round SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN rounds SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE participants ADD COLUMN remind BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE claims (
  winner_id BIGINT NOT NULL PRIMARY KEY REFERENCES winners(id),
  event_id BIGINT NOT NULL REFERENCES events(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  prize_id BIGINT NOT NULL,
  round SMALLINT NOT NULL,
  status SMALLINT NOT NULL,
  claim_by TIMESTAMP NOT NULL,
  details TEXT,
  carrier TEXT,
  tracking_no TEXT,
  claimed_at TIMESTAMP,
  shipped_at TIMESTAMP,
  received_at TIMESTAMP,
  erased_at TIMESTAMP,
  redrawn_in SMALLINT,
  UNIQUE (event_id, user_id)
);
CREATE INDEX claims_user ON claims (user_id, event_id);
CREATE INDEX claims_due ON claims (status, claim_by);

-- SQLite cannot change a table's UNIQUE constraint in place: the outbox is
-- copied into a table keyed by (event, user, kind).
CREATE TABLE notices_by_kind (
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
  UNIQUE (event_id, user_id, kind)
);
INSERT INTO notices_by_kind SELECT * FROM notices;
DROP TABLE notices;
ALTER TABLE notices_by_kind RENAME TO notices;
CREATE INDEX notices_due ON notices (state, due_at);
