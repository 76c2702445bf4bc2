-- Object versions of this batch that the ledger already holds: S3 delivers events at least once,
-- so a (bucket, key, etag) seen before is skipped. {keys} expands to one bound parameter per key.
SELECT key, etag
FROM load_ledger
WHERE bucket = CAST(%(bucket)s AS VARCHAR(63))
  AND key IN ({keys})
  -- {etags}, one per object too, is what the ledger's SORTKEY (etag) prunes blocks by.
  AND etag IN ({etags})
  -- A version recorded missing or superseded was never loaded; if the same bytes are uploaded
  -- again (same etag), that upload's event must load them, not be skipped as a duplicate.
  AND status NOT IN ('missing', 'superseded');
