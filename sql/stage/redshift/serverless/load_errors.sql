-- First load error of each bad file of this session's COPY since %(since)s, from sys_load_error_detail
-- (serverless): one whole row per file, line, column and reason from the same error.
SELECT file_name, line_number, column_name, reason
FROM (
    -- {file_names}: the manifest's file names as the CHAR(256) column may hold them.
    SELECT
        TRIM(file_name) AS file_name,
        line_number,
        TRIM(column_name) AS column_name,
        TRIM(error_message) AS reason,
        ROW_NUMBER() OVER (
            PARTITION BY TRIM(file_name) ORDER BY start_time, line_number, column_name
        ) AS error_rank
    FROM sys_load_error_detail
    WHERE session_id = pg_backend_pid()
      AND start_time >= CAST(%(since)s AS TIMESTAMP)
      AND TRIM(file_name) IN ({file_names})
) AS load_errors
WHERE error_rank = 1;
