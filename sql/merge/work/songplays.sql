-- Write the merge's plays with their song (title, artist name, length to the ms, against the songs
-- as this merge leaves them); look-alike songs: the lowest song_id (no fan-out), none: NULLs.
INSERT INTO work_songplays (
    merge_id, songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location,
    user_agent, item_in_session, song_title, artist_name, song_length, events, source_load,
    source_file
)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), songplay_id, start_time, user_id, level, song_id,
       artist_id, session_id, location, user_agent, item_in_session, song_title, artist_name,
       song_length, events, source_load, source_file
FROM (
    SELECT p.songplay_id, p.start_time, p.user_id, p.level, s.song_id, s.artist_id,
           p.session_id, p.location, p.user_agent, p.item_in_session, p.song_title,
           p.artist_name, p.song_length, p.events, p.source_load, p.source_file,
           ROW_NUMBER() OVER (PARTITION BY p.songplay_id ORDER BY s.song_id) AS song_rank
    FROM ({batch_plays}) AS p
    LEFT JOIN ({known_songs}) AS s ON ({song_match})
) AS matched
WHERE song_rank = 1;
