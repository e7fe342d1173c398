DELETE FROM notices WHERE kind = 3;
ALTER TABLE notices
  ADD UNIQUE KEY notices_event_user (event_id, user_id),
  DROP INDEX notices_event_user_kind;
DROP TABLE claims;
ALTER TABLE participants DROP COLUMN remind;
ALTER TABLE events DROP COLUMN rounds;
ALTER TABLE winners DROP COLUMN round;
