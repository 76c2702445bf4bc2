-- Does this merge still hold a valid lease? A read, not a renewal: the parallel dimension steps
-- must not all write the lease row, or serializable isolation would abort all but one.
SELECT COUNT(*) FROM merge_lease
WHERE name = 'merge' AND merge_id = %(merge_id)s AND expires_at > %(now)s;
