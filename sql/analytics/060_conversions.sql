-- Conversions from free to paid: users who played as free and later as paid.
-- Read from the plays' level at play time, so a later downgrade does not hide the upgrade.
SELECT COUNT(*) AS converted_users
FROM (
    SELECT user_id
    FROM songplays
    WHERE user_id IS NOT NULL
    GROUP BY user_id
    HAVING MIN(CASE WHEN level = 'free' THEN start_time END)
         < MAX(CASE WHEN level = 'paid' THEN start_time END)
) AS converted;
