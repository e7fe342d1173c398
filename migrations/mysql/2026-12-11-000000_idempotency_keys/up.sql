-- `Idempotency-Key` on POST /api/v1/events (docs/API-NOTES.md, "Retrying a
-- creation"): one row per user and key, kept 24 hours.
--   idem_key: as sent (printable ASCII, 1 to 255 bytes), compared byte for
--     byte (VARBINARY, as users.openid).
--   request_digest: a keyed, salted digest of the request's body under the
--     personal-data keys (the body may hold a join password), never the
--     body itself: a retry's body is compared against it.
--   attempt: a random number for the request holding the key; the event's
--     creation sets event_id only where its own attempt still holds the
--     row, so a key taken over from a crashed attempt creates one event.
--   event_id: the event created; NULL while it is being created.
CREATE TABLE idempotency_keys (
  user_id BIGINT NOT NULL,
  idem_key VARBINARY(255) NOT NULL,
  request_digest VARCHAR(96) NOT NULL,
  attempt BIGINT NOT NULL,
  event_id BIGINT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (user_id, idem_key),
  KEY idempotency_keys_age (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
