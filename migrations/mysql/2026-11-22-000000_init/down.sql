DROP TABLE winners;
DROP TABLE participants;
DROP TABLE prizes;
DROP TABLE events;
DROP TABLE users;
