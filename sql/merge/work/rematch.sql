-- Write the earlier plays (not in this batch) whose song changes with this merge's songs: newly
-- matched song-less plays, plays of a corrected or retracted song (re-matched or un-matched).
INSERT INTO work_rematch (merge_id, songplay_id, song_id, artist_id)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), songplay_id, song_id, artist_id
FROM (
    SELECT p.songplay_id, p.song_id AS old_song_id, s.song_id, s.artist_id,
           ROW_NUMBER() OVER (PARTITION BY p.songplay_id ORDER BY s.song_id) AS song_rank
    FROM songplays AS p
    LEFT JOIN ({known_songs}) AS s ON ({song_match})
    WHERE p.songplay_id IN (
        SELECT p.songplay_id
        FROM songplays AS p
        JOIN work_songs AS s ON ({song_match})
        WHERE p.song_id IS NULL AND s.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        UNION
        SELECT p.songplay_id
        FROM songplays AS p
        JOIN work_songs AS s ON s.song_id = p.song_id
        WHERE s.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        UNION
        SELECT p.songplay_id
        FROM songplays AS p
        JOIN work_retract_songs AS x ON x.song_id = p.song_id
        WHERE x.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
    )
      AND NOT EXISTS (
          SELECT 1 FROM work_songplays AS w
          WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND w.songplay_id = p.songplay_id
      )
) AS candidates
WHERE song_rank = 1
  AND COALESCE(song_id, '') <> COALESCE(old_song_id, '');
