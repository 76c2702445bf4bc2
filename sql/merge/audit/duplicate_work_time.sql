-- Audit: start_times written twice into work_time (must be 0): Redshift's MERGE takes at most
-- one source row per target key, and keys are not enforced.
SELECT COUNT(*) FROM (
    SELECT start_time FROM work_time WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        GROUP BY start_time HAVING COUNT(*) > 1
) AS duplicates;
