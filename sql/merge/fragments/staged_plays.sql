-- Fragment: the staged events of this merge's loads that are plays the fact can hold (NextSong,
-- natural key complete), except those of a file version this merge also holds a newer one of.
SELECT e.session_id, e.item_in_session, e.user_id, e.ts, e.level, e.location, e.user_agent,
       e.song, e.artist, e.length, e.load_id, e.file_no, l.staged_at
FROM staging_events AS e
JOIN ({claimed_loads}) AS l ON l.load_id = e.load_id
WHERE e.page = 'NextSong'
  AND e.ts IS NOT NULL
  AND e.session_id IS NOT NULL
  AND e.item_in_session IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM ({replaced_files}) AS r
      WHERE r.load_id = e.load_id AND r.file_no = e.file_no AND r.dataset = 'events'
  )
