DROP TABLE join_tries;
DROP TABLE event_groups;
ALTER TABLE events
  DROP COLUMN join_password,
  DROP COLUMN group_only,
  DROP COLUMN risk_check,
  DROP COLUMN min_participants;
