-- First load error of each bad file of this session's COPY started at or after %(since)s, on a
-- provisioned cluster: one whole row per file (line, column and reason of the same error).
-- {file_names} binds the manifest's file names as the CHAR(256) column may hold them.
SELECT file_name, line_number, column_name, reason
FROM (
    SELECT
        TRIM(filename) AS file_name,
        line_number,
        TRIM(colname) AS column_name,
        TRIM(err_reason) AS reason,
        ROW_NUMBER() OVER (
            PARTITION BY TRIM(filename) ORDER BY starttime, line_number, colname
        ) AS error_rank
    FROM stl_load_errors
    WHERE session = pg_backend_pid()
      AND starttime >= CAST(%(since)s AS TIMESTAMP)
      AND TRIM(filename) IN ({file_names})
) AS load_errors
WHERE error_rank = 1;
