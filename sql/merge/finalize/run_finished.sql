-- Close the merge run's record with its outcome.
UPDATE merge_runs SET finished_at = %(now)s, status = %(status)s, error = %(error)s
WHERE merge_id = %(merge_id)s;
