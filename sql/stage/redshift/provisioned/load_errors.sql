-- First load error of each bad file of this session's COPY since %(since)s, from stl_load_errors
-- (provisioned): one whole row per file, line, column and reason from the same error.
SELECT file_name, line_number, column_name, reason
FROM (
    -- {file_names}: the manifest's file names as the CHAR(256) column may hold them.
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
