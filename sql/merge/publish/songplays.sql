-- Publish plays by songplay_id (deterministic from the natural key) from the audited work
-- rows: a reloaded or corrected event updates its row. merge_id is cast (Redshift: UNKNOWN).
MERGE INTO songplays
USING work_songplays AS b
ON songplays.songplay_id = b.songplay_id
WHEN MATCHED THEN UPDATE SET
    start_time = b.start_time, user_id = b.user_id, level = b.level, song_id = b.song_id,
    artist_id = b.artist_id, session_id = b.session_id, location = b.location,
    user_agent = b.user_agent, item_in_session = b.item_in_session, song_title = b.song_title,
    artist_name = b.artist_name, song_length = b.song_length,
    merge_id = CAST(%(merge_id)s AS VARCHAR(32)), source_load = b.source_load,
    source_file = b.source_file
WHEN NOT MATCHED THEN INSERT (
    songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location,
    user_agent, item_in_session, song_title, artist_name, song_length, merge_id, source_load,
    source_file
) VALUES (
    b.songplay_id, b.start_time, b.user_id, b.level, b.song_id, b.artist_id, b.session_id,
    b.location, b.user_agent, b.item_in_session, b.song_title, b.artist_name, b.song_length,
    CAST(%(merge_id)s AS VARCHAR(32)), b.source_load, b.source_file
);
