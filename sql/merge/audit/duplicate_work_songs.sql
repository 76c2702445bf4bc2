-- Audit: song_ids written twice into work_songs (must be 0): Redshift's MERGE takes at most
-- one source row per target key, and keys are not enforced.
SELECT COUNT(*) FROM (
    SELECT song_id FROM work_songs WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        GROUP BY song_id HAVING COUNT(*) > 1
) AS duplicates;
