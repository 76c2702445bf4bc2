-- Fragment: older versions (load_id, file_no, dataset) of the keys this merge publishes: merged
-- before, or claimed by this merge but superseded by a newer claimed one.
SELECT o.load_id, o.file_no, o.dataset
FROM load_ledger AS o
JOIN load_ledger AS n ON n.bucket = o.bucket AND n.key = o.key AND n.etag <> o.etag
WHERE n.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
  AND n.status = 'staged'
  AND o.file_no IS NOT NULL
  AND (o.status = 'merged'
       OR (o.merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND o.status = 'staged'
         AND o.staged_at < n.staged_at))
