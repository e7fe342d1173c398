-- The participant list pages in join order within an event.
CREATE INDEX participants_event_order ON participants (event_id, id);
