-- Earlier plays still without a song that one of this merge's songs now matches (title, artist
-- name, length to the millisecond); one song per play, the lowest song_id.
CREATE TEMP TABLE rematch_batch AS
SELECT songplay_id, song_id, artist_id
FROM (
    SELECT p.songplay_id, s.song_id, s.artist_id,
           ROW_NUMBER() OVER (PARTITION BY p.songplay_id ORDER BY s.song_id) AS rank
    FROM songplays AS p
    JOIN songs AS s
      ON ({song_match})
    WHERE p.song_id IS NULL
      AND s.song_id IN (
          SELECT st.song_id
          FROM staging_songs AS st
          JOIN ({claimed_loads}) AS l ON l.load_id = st.load_id
      )
) AS candidates
WHERE rank = 1;
