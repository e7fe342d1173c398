-- Winner claims (docs/API.md, "Winner claims") and the second kind of
-- subscribe message (docs/NOTIFICATIONS.md).
--
-- winners.round: 1 for the draw, k for the k-th re-draw of expired prizes.
-- events.rounds: the last round drawn; a re-draw moves it from k-1 to k
--   conditionally, so two re-draws of one round cannot both commit.
-- participants.remind: the participant accepted the claim_reminder
--   template (one message).
ALTER TABLE winners ADD COLUMN round SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN rounds SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE participants ADD COLUMN remind BOOLEAN NOT NULL DEFAULT 0;

-- One claim per winner row, written in the same transaction as the row.
--   status: 0 unclaimed, 1 claimed, 2 shipped, 3 received, 4 expired (its
--           prize went to a re-draw; an unclaimed claim past claim_by shows
--           as expired before that too).
--   details: the winner's delivery details, sealed (src/pii: AES-256-GCM,
--           "key id.base64url(nonce|ciphertext)"); NULL before a claim and
--           once erased (erased_at), some days after received or expired.
--   redrawn_in: the round that re-drew this claim's prize once it expired.
CREATE TABLE claims (
  winner_id BIGINT NOT NULL PRIMARY KEY,
  event_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  prize_id BIGINT NOT NULL,
  round SMALLINT NOT NULL,
  status SMALLINT NOT NULL,
  claim_by DATETIME(6) NOT NULL,
  details TEXT NULL,
  carrier VARCHAR(32) NULL,
  tracking_no VARCHAR(64) NULL,
  claimed_at DATETIME(6) NULL,
  shipped_at DATETIME(6) NULL,
  received_at DATETIME(6) NULL,
  erased_at DATETIME(6) NULL,
  redrawn_in SMALLINT NULL,
  UNIQUE KEY claims_event_user (event_id, user_id),
  KEY claims_user (user_id, event_id),
  KEY claims_due (status, claim_by),
  CONSTRAINT claims_winner_fk FOREIGN KEY (winner_id) REFERENCES winners (id),
  CONSTRAINT claims_event_fk FOREIGN KEY (event_id) REFERENCES events (id),
  CONSTRAINT claims_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A participant may now get one message of each kind (kind 3: the claim
-- reminder), so the outbox's key names the kind.
ALTER TABLE notices
  ADD UNIQUE KEY notices_event_user_kind (event_id, user_id, kind),
  DROP INDEX notices_event_user;
