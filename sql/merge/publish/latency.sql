-- S3 event times of the files this publish makes visible (how many, oldest, newest); the caller
-- subtracts them in milliseconds (EXTRACT(EPOCH) of a TIMESTAMP is whole seconds on Redshift).
SELECT COUNT(*), MIN(event_time), MAX(event_time)
FROM load_ledger
WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND status = 'staged' AND event_time IS NOT NULL;
