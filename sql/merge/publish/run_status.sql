-- How this merge's run ended, if it did: a publish whose reply was lost and is retried finds
-- its run succeeded and its lease gone, and must report success, not a lost lease.
SELECT status FROM merge_runs WHERE merge_id = %(merge_id)s;
