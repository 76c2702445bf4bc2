-- Busiest 10 users by plays, with their current level.
-- Plays by logged-out visitors (no user) are left out.
SELECT p.user_id, u.first_name, u.last_name, u.level, COUNT(*) AS plays
FROM songplays AS p
JOIN users AS u ON u.user_id = p.user_id
GROUP BY p.user_id, u.first_name, u.last_name, u.level
ORDER BY plays DESC, p.user_id
LIMIT 10;
