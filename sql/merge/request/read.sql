-- The pending merge request, if any: when it was made (or last confirmed by a waiting run).
SELECT requested_at, execution FROM merge_requests WHERE name = 'merge';
