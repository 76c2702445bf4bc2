-- Mark the merged files; the ledger keeps them, so a redelivered event stays a duplicate.
UPDATE load_ledger SET status = 'merged', merged_at = %(now)s
WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND status = 'staged';
