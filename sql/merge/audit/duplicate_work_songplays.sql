-- Audit: songplay_ids written twice into work_songplays (must be 0): Redshift's MERGE takes at most
-- one source row per target key, and keys are not enforced.
SELECT COUNT(*) FROM (
    SELECT songplay_id FROM work_songplays WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        GROUP BY songplay_id HAVING COUNT(*) > 1
) AS duplicates;
