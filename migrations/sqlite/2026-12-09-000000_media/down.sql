DROP INDEX prizes_image;
DROP INDEX events_cover;
ALTER TABLE prizes DROP COLUMN image_id;
ALTER TABLE events DROP COLUMN cover_id;
DROP TABLE media;
