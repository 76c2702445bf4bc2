-- Write the published plays that only an older version of one of this merge's log files had
-- (the corrected file dropped the event): the publish removes them and their orphaned time rows.
INSERT INTO work_retract_plays (merge_id, songplay_id, start_time)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), p.songplay_id, p.start_time
FROM songplays AS p
WHERE EXISTS (
    SELECT 1 FROM ({replaced_files}) AS r
    WHERE r.load_id = p.source_load AND r.file_no = p.source_file
      AND r.dataset = 'events'
)
  AND NOT EXISTS (
      SELECT 1 FROM work_songplays AS w WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        AND w.songplay_id = p.songplay_id
  );
