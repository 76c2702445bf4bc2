-- Audit: user_ids already twice in users (must be 0; a corrupted warehouse: keys are not
-- enforced). The whole (small) dimension: finding the batch's users would cost more.
SELECT COUNT(*) FROM (
    SELECT user_id FROM users GROUP BY user_id HAVING COUNT(*) > 1
) AS duplicates;
