CREATE TABLE users (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  openid VARCHAR(128) NOT NULL,
  unionid VARCHAR(128) NULL,
  nickname VARCHAR(128) NULL,
  avatar_url VARCHAR(512) NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY users_openid (openid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  creator_id BIGINT NOT NULL,
  title VARCHAR(255) NOT NULL,
  description TEXT NOT NULL,
  status SMALLINT NOT NULL,
  draw_mode SMALLINT NOT NULL,
  draw_at DATETIME(6) NOT NULL,
  max_participants INT NULL,
  participant_count INT NOT NULL DEFAULT 0,
  seed VARBINARY(32) NOT NULL,
  seed_hash CHAR(64) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  drawn_at DATETIME(6) NULL,
  cancelled_at DATETIME(6) NULL,
  UNIQUE KEY events_seed_hash (seed_hash),
  KEY events_status_draw_at (status, draw_at),
  KEY events_creator (creator_id, id),
  CONSTRAINT events_creator_fk FOREIGN KEY (creator_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE prizes (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id BIGINT NOT NULL,
  position INT NOT NULL,
  name VARCHAR(128) NOT NULL,
  quantity INT NOT NULL,
  image_url VARCHAR(512) NULL,
  UNIQUE KEY prizes_event_position (event_id, position),
  CONSTRAINT prizes_event_fk FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE participants (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  notify BOOLEAN NOT NULL,
  joined_at DATETIME(6) NOT NULL,
  UNIQUE KEY participants_event_user (event_id, user_id),
  KEY participants_user (user_id, event_id),
  CONSTRAINT participants_event_fk FOREIGN KEY (event_id) REFERENCES events (id),
  CONSTRAINT participants_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE winners (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  prize_id BIGINT NOT NULL,
  UNIQUE KEY winners_event_user (event_id, user_id),
  KEY winners_user (user_id, event_id),
  CONSTRAINT winners_event_fk FOREIGN KEY (event_id) REFERENCES events (id),
  CONSTRAINT winners_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT winners_prize_fk FOREIGN KEY (prize_id) REFERENCES prizes (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
