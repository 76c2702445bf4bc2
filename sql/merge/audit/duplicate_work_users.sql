-- Audit: user_ids written twice into work_users (must be 0): Redshift's MERGE takes at most
-- one source row per target key, and keys are not enforced.
SELECT COUNT(*) FROM (
    SELECT user_id FROM work_users WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        GROUP BY user_id HAVING COUNT(*) > 1
) AS duplicates;
