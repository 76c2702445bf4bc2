-- Remove the time rows of retracted plays that no play references any more.
DELETE FROM time
WHERE start_time IN (SELECT r.start_time FROM work_retract_plays AS r
    WHERE r.merge_id = CAST(%(merge_id)s AS VARCHAR(32)))
  AND NOT EXISTS (SELECT 1 FROM songplays AS p WHERE p.start_time = time.start_time);
