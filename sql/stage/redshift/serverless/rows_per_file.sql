-- Rows each file of this session's COPY started at or after %(since)s contributed, on
-- Serverless. sys_load_detail has no session column: its query_id joins sys_load_history's.
SELECT TRIM(d.file_name), SUM(d.lines_scanned)
FROM sys_load_detail AS d
JOIN sys_load_history AS h ON h.query_id = d.query_id
WHERE h.session_id = pg_backend_pid()
  AND h.start_time >= CAST(%(since)s AS TIMESTAMP)
  AND TRIM(d.file_name) IN ({file_names})
GROUP BY 1;
