DROP TABLE join_tries;
DROP TABLE event_groups;
ALTER TABLE events DROP COLUMN join_password;
ALTER TABLE events DROP COLUMN group_only;
ALTER TABLE events DROP COLUMN risk_check;
ALTER TABLE events DROP COLUMN min_participants;
