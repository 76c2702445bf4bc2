-- Quality: songplay_ids of this merge that occur more than once in the fact (must be 0).
-- Checked for the merge's keys only, so the cost follows the batch, not the table.
SELECT COUNT(*) FROM (
    SELECT s.songplay_id
    FROM songplays AS s
    WHERE s.songplay_id IN (SELECT p.songplay_id FROM plays_batch AS p)
    GROUP BY s.songplay_id
    HAVING COUNT(*) > 1
) AS duplicates;
