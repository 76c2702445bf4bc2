-- Rows each file of the last COPY in this session contributed (Redshift's own per-file count).
SELECT TRIM(filename), SUM(lines_scanned)
FROM stl_load_commits
WHERE query = pg_last_copy_id()
GROUP BY 1;
