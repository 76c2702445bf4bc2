-- Remove the plays only an older version of a republished log file had (work/retract_plays.sql).
DELETE FROM songplays
WHERE songplay_id IN (
    SELECT r.songplay_id FROM work_retract_plays AS r
        WHERE r.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
);
