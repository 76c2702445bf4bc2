-- The ledger rows of the uploaded keys, oldest first: a load's summary reads each version's latest.
-- A version recorded missing can be staged later by a re-upload of the same bytes.
SELECT key, etag, dataset, status, rows, error, load_id
FROM load_ledger
WHERE bucket = %(bucket)s AND key IN ({keys})
ORDER BY staged_at;
