-- A fan-out of notices (docs/NOTIFICATIONS.md, "A million participants"):
-- instead of one outbox row per participant written inside the draw's (or
-- the cancel's) transaction, that transaction writes this one row, and the
-- notifier expands it into outbox rows a page of participants at a time.
--   kind: as notices.kind (1 the draw's result, 2 the cancellation).
--   after_participant: the participants.id (join order) expanded through;
--     the next page starts after it. Participants no longer change once
--     the event is drawn or cancelled, so the pages are stable.
--   created_at: the end's time; the outbox rows' created_at.
-- The row is deleted with its last page. One per event and kind, as the
-- outbox holds one row per (event, user, kind).
CREATE TABLE notice_fanouts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id BIGINT NOT NULL,
  kind SMALLINT NOT NULL,
  after_participant BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY notice_fanouts_event_kind (event_id, kind),
  CONSTRAINT notice_fanouts_event_fk FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
