-- Free vs paid: users at their current level, and plays by the level at play time.
-- A user who upgraded counts once, at the level of their latest event.
SELECT u.level, u.users, p.plays
FROM (SELECT level, COUNT(*) AS users FROM users GROUP BY level) AS u
LEFT JOIN (SELECT level, COUNT(*) AS plays FROM songplays GROUP BY level) AS p
    ON p.level = u.level
ORDER BY u.level;
