CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  openid TEXT NOT NULL UNIQUE,
  unionid TEXT,
  nickname TEXT,
  avatar_url TEXT,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  creator_id BIGINT NOT NULL REFERENCES users(id),
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  status SMALLINT NOT NULL,
  draw_mode SMALLINT NOT NULL,
  draw_at TIMESTAMP NOT NULL,
  max_participants INTEGER,
  participant_count INTEGER NOT NULL DEFAULT 0,
  seed BLOB NOT NULL,
  seed_hash TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL,
  drawn_at TIMESTAMP,
  cancelled_at TIMESTAMP
);
CREATE INDEX events_status_draw_at ON events (status, draw_at);
CREATE INDEX events_creator ON events (creator_id, id);

CREATE TABLE prizes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id BIGINT NOT NULL REFERENCES events(id),
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  image_url TEXT,
  UNIQUE (event_id, position)
);

CREATE TABLE participants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id BIGINT NOT NULL REFERENCES events(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  notify BOOLEAN NOT NULL,
  joined_at TIMESTAMP NOT NULL,
  UNIQUE (event_id, user_id)
);
CREATE INDEX participants_user ON participants (user_id, event_id);

CREATE TABLE winners (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id BIGINT NOT NULL REFERENCES events(id),
  user_id BIGINT NOT NULL REFERENCES users(id),
  prize_id BIGINT NOT NULL REFERENCES prizes(id),
  UNIQUE (event_id, user_id)
);
CREATE INDEX winners_user ON winners (user_id, event_id);
