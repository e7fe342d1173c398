-- Who may join (docs/API.md, "Join rules"), set at creation.
--   join_password: the 口令's keyed digest (docs/API-NOTES.md, "Join
--     rules": HMAC-SHA-256 under a server key kept outside the database,
--     "key id:hex"); NULL: no password. Never the password itself.
--   group_only: joins need proof of one of the event's WeChat groups
--     (event_groups).
--   risk_check: joins are refused to accounts WeChat rates as likely fraud.
--   min_participants: fewer at the draw cancel the event instead.
ALTER TABLE events
  ADD COLUMN join_password VARBINARY(128) NULL,
  ADD COLUMN group_only BOOLEAN NOT NULL DEFAULT 0,
  ADD COLUMN risk_check BOOLEAN NOT NULL DEFAULT 0,
  ADD COLUMN min_participants INT NULL;

-- The WeChat groups (opengid, as WeChat gives it for this app) a
-- group-only event was bound to by its creator.
CREATE TABLE event_groups (
  event_id BIGINT NOT NULL,
  opengid VARBINARY(128) NOT NULL,
  bound_at DATETIME(6) NOT NULL,
  PRIMARY KEY (event_id, opengid),
  CONSTRAINT event_groups_event_fk FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Wrong join passwords per user and event (docs/API-NOTES.md, "Join
-- rules"): the event's actor counts them; this keeps its count across a
-- restart or a change of owner.
CREATE TABLE join_tries (
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  wrong SMALLINT NOT NULL,
  PRIMARY KEY (event_id, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
