-- Claim every staged file for this merge, including files an earlier, crashed merge had
-- claimed: holding the lease proves that merge is gone. Files staged later wait for the next.
UPDATE load_ledger SET merge_id = %(merge_id)s WHERE status = 'staged';
