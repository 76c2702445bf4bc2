-- Rows each file of this session's COPY started at or after %(since)s contributed, on a
-- provisioned cluster. stl_load_commits has no session column: its query joins stl_query's.
SELECT TRIM(c.filename), SUM(c.lines_scanned)
FROM stl_load_commits AS c
JOIN stl_query AS q ON q.query = c.query
WHERE q.pid = pg_backend_pid()
  AND q.starttime >= CAST(%(since)s AS TIMESTAMP)
  AND TRIM(c.filename) IN ({file_names})
GROUP BY 1;
