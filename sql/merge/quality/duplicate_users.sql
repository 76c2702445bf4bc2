-- Quality: user_ids that occur more than once in users (must be 0). The whole (small) dimension:
-- finding this merge's users would scan every staged event (8 s at 1.3M events, measured).
SELECT COUNT(*) FROM (
    SELECT user_id
    FROM users
    GROUP BY user_id
    HAVING COUNT(*) > 1
) AS duplicates;
