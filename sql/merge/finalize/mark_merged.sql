-- Mark the merged files; the ledger keeps them, so a redelivered event stays a duplicate.
UPDATE load_ledger SET status = 'merged', merged_at = %(now)s
WHERE merge_id = %(merge_id)s AND status = 'staged';
