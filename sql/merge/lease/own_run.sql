-- The running merge an execution already started: a Lease retried after its commit (a lost
-- reply, a timeout) finds its own lease held and carries on with it.
SELECT files, loads FROM merge_runs
WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32)) AND execution = %(execution)s
  AND status = 'running';
