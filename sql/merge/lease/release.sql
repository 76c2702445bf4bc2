-- Give the lease back (finished, failed or nothing to do); only our own lease.
DELETE FROM merge_lease WHERE name = 'merge' AND merge_id = %(merge_id)s;
