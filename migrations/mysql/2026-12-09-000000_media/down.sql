ALTER TABLE prizes DROP KEY prizes_image, DROP COLUMN image_id;
ALTER TABLE events DROP KEY events_cover, DROP COLUMN cover_id;
DROP TABLE media;
