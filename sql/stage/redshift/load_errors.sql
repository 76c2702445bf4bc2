-- Load errors of the last COPY in this session, one row per bad file (first error of each).
SELECT TRIM(filename), MIN(line_number), MIN(TRIM(colname)), MIN(TRIM(err_reason))
FROM stl_load_errors
WHERE query = pg_last_copy_id()
GROUP BY 1;
