-- Write the merge's songs, one per song_id, the newest load's version winning.
-- Year 0 is the Million Song Dataset's "unknown" and is stored as NULL.
INSERT INTO work_songs (
    merge_id, song_id, title, artist_id, artist_name, year, duration, source_load, source_file
)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), song_id, title, artist_id, artist_name, year, duration,
       source_load, source_file
FROM (
    SELECT s.song_id, s.title, s.artist_id, s.artist_name, NULLIF(s.year, 0) AS year, s.duration,
           s.load_id AS source_load, s.file_no AS source_file,
           ROW_NUMBER() OVER (
               PARTITION BY s.song_id
               ORDER BY l.staged_at DESC, s.title, s.artist_id, s.duration
           ) AS recency
    FROM staging_songs AS s
    JOIN ({claimed_loads}) AS l ON l.load_id = s.load_id
    WHERE s.song_id IS NOT NULL
      -- A version this merge also holds a newer version of contributes nothing.
      AND NOT EXISTS (
          SELECT 1 FROM ({replaced_files}) AS r
          WHERE r.load_id = s.load_id AND r.file_no = s.file_no
            AND r.dataset = 'songs'
      )
) AS ranked
WHERE recency = 1;
