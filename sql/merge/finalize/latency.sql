-- S3 event times of the merged files as epoch seconds (oldest, average): end-to-end latency
-- is "now" minus these, computed by the caller.
SELECT COUNT(*), MIN(EXTRACT(EPOCH FROM event_time)), AVG(EXTRACT(EPOCH FROM event_time))
FROM load_ledger
WHERE merge_id = %(merge_id)s AND status = 'staged' AND event_time IS NOT NULL;
