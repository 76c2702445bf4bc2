-- Quality: plays of this merge whose start_time has no row in the time dimension (must be 0).
SELECT COUNT(*)
FROM plays_batch AS p
WHERE NOT EXISTS (SELECT 1 FROM time AS t WHERE t.start_time = p.start_time);
