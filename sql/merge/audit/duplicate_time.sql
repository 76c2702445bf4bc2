-- Audit: start times of this batch already twice in time (must be 0; a corrupted warehouse).
SELECT COUNT(*) FROM (
    SELECT t.start_time
    FROM time AS t
    WHERE t.start_time IN (SELECT p.start_time FROM work_songplays AS p
        WHERE p.merge_id = CAST(%(merge_id)s AS VARCHAR(32)))
    GROUP BY t.start_time
    HAVING COUNT(*) > 1
) AS duplicates;
