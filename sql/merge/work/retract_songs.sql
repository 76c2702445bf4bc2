-- Write the published songs that only an older version of one of this merge's song files had
-- (the newer version no longer holds them): the publish removes them.
INSERT INTO work_retract_songs (merge_id, song_id)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), s.song_id
FROM songs AS s
WHERE EXISTS (
    SELECT 1 FROM ({replaced_files}) AS r
    WHERE r.load_id = s.source_load AND r.file_no = s.source_file
      AND r.dataset = 'songs'
)
  AND NOT EXISTS (
      SELECT 1 FROM work_songs AS w WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        AND w.song_id = s.song_id
  );
