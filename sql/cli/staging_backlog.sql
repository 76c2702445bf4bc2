-- `sparkify status`: rows staged and not merged yet, events then songs.
-- One row.
SELECT (SELECT COUNT(*) FROM staging_events), (SELECT COUNT(*) FROM staging_songs);
