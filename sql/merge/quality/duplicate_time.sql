-- Quality: start times of this merge that occur more than once in time (must be 0).
SELECT COUNT(*) FROM (
    SELECT t.start_time
    FROM time AS t
    WHERE t.start_time IN (SELECT p.start_time FROM plays_batch AS p)
    GROUP BY t.start_time
    HAVING COUNT(*) > 1
) AS duplicates;
