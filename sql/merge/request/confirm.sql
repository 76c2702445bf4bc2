-- A run waiting for the lease confirms the request is still served (so later batches start no
-- other execution), once per half TTL: not a commit every wait.
UPDATE merge_requests SET requested_at = %(now)s
WHERE name = 'merge' AND requested_at < %(confirm_before)s;
