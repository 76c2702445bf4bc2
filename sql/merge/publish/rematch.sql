-- Publish the new song of earlier plays (work/rematch.sql): matched, re-matched or un-matched.
UPDATE songplays
SET song_id = r.song_id, artist_id = r.artist_id
FROM work_rematch AS r
WHERE songplays.songplay_id = r.songplay_id
  AND r.merge_id = CAST(%(merge_id)s AS VARCHAR(32));
