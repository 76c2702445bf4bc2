-- Record the merge run that claimed the loads.
INSERT INTO merge_runs (merge_id, execution, started_at, status, files, loads)
VALUES (%(merge_id)s, %(execution)s, %(now)s, 'running', %(files)s, %(loads)s);
