-- Close the merge run's record with its outcome, once: a published run stays succeeded even if
-- a retried or later step fails after the publish committed.
UPDATE merge_runs SET finished_at = %(now)s, status = %(status)s, error = %(error)s
WHERE merge_id = %(merge_id)s AND status = 'running';
