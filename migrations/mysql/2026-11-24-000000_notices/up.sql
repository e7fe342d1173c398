-- The outbox of result notices. The draw's transaction (and the cancel's)
-- writes one row per participant who asked for notice, so a committed draw
-- always has its messages queued; the notifier drains them (src/actors/notifier.rs).
--   kind:  1 the draw's result, 2 the cancellation
--   state: 0 pending, 1 sent, 2 failed for good (error says why)
--   due_at: not tried before this time. A claim moves it to the claim's
--           expiry, so a row a crashed sender held becomes due again by itself.
--   claim:  the random token of the claim that holds it (or held it last).
CREATE TABLE notices (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  kind SMALLINT NOT NULL,
  state SMALLINT NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  due_at DATETIME(6) NOT NULL,
  claim BIGINT NULL,
  error VARCHAR(255) NULL,
  created_at DATETIME(6) NOT NULL,
  sent_at DATETIME(6) NULL,
  UNIQUE KEY notices_event_user (event_id, user_id),
  KEY notices_due (state, due_at),
  CONSTRAINT notices_event_fk FOREIGN KEY (event_id) REFERENCES events (id),
  CONSTRAINT notices_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
