-- Fresh statistics for the song staging table before a merge reads it (see
-- analyze_staging_events.sql).
ANALYZE staging_songs;
