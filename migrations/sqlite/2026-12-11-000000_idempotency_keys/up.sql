-- See migrations/mysql: `Idempotency-Key` on POST /api/v1/events.
CREATE TABLE idempotency_keys (
  user_id BIGINT NOT NULL,
  idem_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  event_id BIGINT,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
