-- The ledger's word on a page of listed object versions (backfill, reconcile), oldest first: a
-- version's latest row is its state. {keys} and {etags} expand to one bound parameter per object.
SELECT key, etag, status
FROM load_ledger
WHERE bucket = CAST(%(bucket)s AS VARCHAR(63))
  AND key IN ({keys})
  AND etag IN ({etags})
  -- As the stage function reads the ledger (stage/find_loaded_versions.sql): a version recorded
  -- missing or superseded was never loaded, so an announcement of it would load it.
  AND status NOT IN ('missing', 'superseded')
ORDER BY staged_at;
