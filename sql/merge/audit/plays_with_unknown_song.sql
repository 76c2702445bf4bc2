-- Audit: plays matched to a song that is neither in the batch nor in songs (must be 0).
SELECT COUNT(*)
FROM work_songplays AS p
WHERE p.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
  AND p.song_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM work_songs AS w WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
    AND w.song_id = p.song_id)
  AND NOT EXISTS (SELECT 1 FROM songs AS s WHERE s.song_id = p.song_id);
