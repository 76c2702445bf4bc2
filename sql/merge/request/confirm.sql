-- A run waiting for the lease confirms the request is still served, so later batches do not
-- start yet another execution while it waits.
UPDATE merge_requests SET requested_at = %(now)s WHERE name = 'merge';
