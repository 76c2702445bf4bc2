-- Fragment: the songs as they will be once this merge is published: its own songs (work_songs)
-- over the published ones, so plays match the corrected version of a song, never the old one.
SELECT w.song_id, w.title, w.artist_id, w.artist_name, w.duration
FROM work_songs AS w
WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
UNION ALL
SELECT s.song_id, s.title, s.artist_id, s.artist_name, s.duration
FROM songs AS s
WHERE NOT EXISTS (
    SELECT 1 FROM work_songs AS o
    WHERE o.merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND o.song_id = s.song_id
)
  -- Songs this merge retracts (a corrected song file no longer holds them) match nothing.
  AND NOT EXISTS (
      SELECT 1 FROM work_retract_songs AS x
      WHERE x.merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND x.song_id = s.song_id
  )
