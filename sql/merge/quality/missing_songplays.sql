-- Quality: staged plays of this merge with no row in the fact (must be 0): staged plays of the
-- batch = fact rows for the batch.
SELECT COUNT(*)
FROM plays_batch AS p
WHERE NOT EXISTS (SELECT 1 FROM songplays AS s WHERE s.songplay_id = p.songplay_id);
