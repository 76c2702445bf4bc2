-- Quality: artist_ids of this merge that occur more than once in artists (must be 0).
SELECT COUNT(*) FROM (
    SELECT a.artist_id
    FROM artists AS a
    WHERE a.artist_id IN (
        SELECT st.artist_id FROM staging_songs AS st
        JOIN ({claimed_loads}) AS l ON l.load_id = st.load_id
    )
    GROUP BY a.artist_id
    HAVING COUNT(*) > 1
) AS duplicates;
