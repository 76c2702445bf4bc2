-- Object versions of this batch that the ledger already holds: S3 delivers events at least once,
-- so a (bucket, key, etag) seen before is skipped. {keys} expands to one bound parameter per key.
SELECT key, etag
FROM load_ledger
WHERE bucket = %(bucket)s
  AND key IN ({keys});
