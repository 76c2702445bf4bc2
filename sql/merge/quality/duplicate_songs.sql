-- Quality: song_ids of this merge that occur more than once in songs (must be 0).
SELECT COUNT(*) FROM (
    SELECT s.song_id
    FROM songs AS s
    WHERE s.song_id IN (
        SELECT st.song_id FROM staging_songs AS st
        JOIN ({claimed_loads}) AS l ON l.load_id = st.load_id
    )
    GROUP BY s.song_id
    HAVING COUNT(*) > 1
) AS duplicates;
