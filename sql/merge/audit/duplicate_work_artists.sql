-- Audit: artist_ids written twice into work_artists (must be 0): Redshift's MERGE takes at most
-- one source row per target key, and keys are not enforced.
SELECT COUNT(*) FROM (
    SELECT artist_id FROM work_artists WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
        GROUP BY artist_id HAVING COUNT(*) > 1
) AS duplicates;
