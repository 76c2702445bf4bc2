-- Extend our lease before each step; 0 rows means it expired and another merge may own the
-- loads now, so this run must stop.
UPDATE merge_lease SET expires_at = %(expires_at)s
WHERE name = 'merge' AND merge_id = %(merge_id)s AND expires_at > %(now)s;
