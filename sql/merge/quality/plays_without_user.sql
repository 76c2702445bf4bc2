-- Quality: plays of this merge by an identified user missing from the users dimension
-- (orphan plays; must be 0).
SELECT COUNT(*)
FROM plays_batch AS p
WHERE p.user_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = p.user_id);
