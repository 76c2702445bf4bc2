-- `sparkify status`: the five newest merge runs, newest first.
-- A running merge has no finished_at yet.
SELECT merge_id, started_at, finished_at, status, files, error
FROM merge_runs
ORDER BY started_at DESC
LIMIT 5;
