-- The current merge lease, if any: who holds it and until when.
SELECT merge_id, expires_at FROM merge_lease WHERE name = 'merge';
