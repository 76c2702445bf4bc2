-- Audit: plays whose start time is neither in the batch nor in time (must be 0).
SELECT COUNT(*)
FROM work_songplays AS p
WHERE p.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
  AND NOT EXISTS (
      SELECT 1 FROM work_time AS w WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        AND w.start_time = p.start_time
  )
  AND NOT EXISTS (SELECT 1 FROM time AS t WHERE t.start_time = p.start_time);
