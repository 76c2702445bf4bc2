-- Quality: user_ids of this merge that occur more than once in users (must be 0).
SELECT COUNT(*) FROM (
    SELECT u.user_id
    FROM users AS u
    WHERE u.user_id IN (
        SELECT e.user_id FROM staging_events AS e
        JOIN ({claimed_loads}) AS l ON l.load_id = e.load_id
    )
    GROUP BY u.user_id
    HAVING COUNT(*) > 1
) AS duplicates;
