-- Fragment: the loads this merge claimed (staged, not yet merged), with when each was staged
-- so a newer version of a row wins over an older one. Used as a subquery by the merge files.
SELECT DISTINCT load_id, staged_at
FROM load_ledger
WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32))
  AND status = 'staged'
