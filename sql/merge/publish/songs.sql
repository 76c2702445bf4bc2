-- Publish songs by song_id from the audited work rows (this merge's only).
MERGE INTO songs
USING work_songs AS b
ON songs.song_id = b.song_id
WHEN MATCHED THEN UPDATE SET
    title = b.title, artist_id = b.artist_id, artist_name = b.artist_name,
    year = b.year, duration = b.duration, source_load = b.source_load,
    source_file = b.source_file
WHEN NOT MATCHED THEN INSERT (
    song_id, title, artist_id, artist_name, year, duration, source_load, source_file
) VALUES (
    b.song_id, b.title, b.artist_id, b.artist_name, b.year, b.duration, b.source_load,
    b.source_file
);
