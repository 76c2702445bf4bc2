-- Write the merge's users, one per user_id: each user's latest event by ts, unless the warehouse
-- already holds a later one (an older file arriving late must not overwrite the level).
INSERT INTO work_users (merge_id, user_id, first_name, last_name, gender, level, level_ts)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), b.user_id,
       CASE WHEN u.level_ts > b.ts THEN u.first_name ELSE b.first_name END,
       CASE WHEN u.level_ts > b.ts THEN u.last_name ELSE b.last_name END,
       CASE WHEN u.level_ts > b.ts THEN u.gender ELSE b.gender END,
       CASE WHEN u.level_ts > b.ts THEN u.level ELSE b.level END,
       CASE WHEN u.level_ts > b.ts THEN u.level_ts ELSE b.ts END
FROM (
    -- Rank only the events at each user's latest ts (an aggregate finds it), not every event.
    SELECT e.user_id, e.first_name, e.last_name, e.gender, e.level, e.ts,
           ROW_NUMBER() OVER (
               PARTITION BY e.user_id
               ORDER BY l.staged_at DESC, e.session_id DESC, e.item_in_session DESC
           ) AS recency
    FROM staging_events AS e
    JOIN ({claimed_loads}) AS l ON l.load_id = e.load_id
    JOIN (
        SELECT le.user_id, MAX(le.ts) AS ts
        FROM staging_events AS le
        JOIN ({claimed_loads}) AS ll ON ll.load_id = le.load_id
        WHERE le.user_id IS NOT NULL
        GROUP BY le.user_id
    ) AS latest ON latest.user_id = e.user_id AND latest.ts = e.ts
) AS b
LEFT JOIN users AS u ON u.user_id = b.user_id
WHERE b.recency = 1;
