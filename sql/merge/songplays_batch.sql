-- The merge's plays with their song, matched on title, artist name and length to the
-- millisecond; a play matching several look-alike songs takes the lowest song_id (no fan-out).
CREATE TEMP TABLE songplays_batch AS
SELECT p.songplay_id, p.start_time, p.user_id, p.level, m.song_id, m.artist_id, p.session_id,
       p.location, p.user_agent, p.item_in_session, p.song_title, p.artist_name, p.song_length
FROM plays_batch AS p
LEFT JOIN (
    SELECT songplay_id, song_id, artist_id
    FROM (
        SELECT p.songplay_id, s.song_id, s.artist_id,
               ROW_NUMBER() OVER (PARTITION BY p.songplay_id ORDER BY s.song_id) AS rank
        FROM plays_batch AS p
        JOIN songs AS s ON ({song_match})
    ) AS candidates
    WHERE rank = 1
) AS m ON m.songplay_id = p.songplay_id;
