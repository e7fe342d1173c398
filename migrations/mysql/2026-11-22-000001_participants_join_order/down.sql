DROP INDEX participants_event_order ON participants;
