-- Audit: plays by an identified user who is neither in the batch nor in users (must be 0).
SELECT COUNT(*)
FROM work_songplays AS p
WHERE p.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
  AND p.user_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM work_users AS w WHERE w.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
    AND w.user_id = p.user_id)
  AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.user_id = p.user_id);
