-- The merge's distinct play start times (plays only, not every event), split into parts.
-- Distinct first, parts after: one sort key instead of seven. Weekday: 0 = Sunday (DOW).
CREATE TEMP TABLE time_batch AS
SELECT start_time,
       CAST(EXTRACT(HOUR FROM start_time) AS INTEGER) AS hour,
       CAST(EXTRACT(DAY FROM start_time) AS INTEGER) AS day,
       CAST(EXTRACT(WEEK FROM start_time) AS INTEGER) AS week,
       CAST(EXTRACT(MONTH FROM start_time) AS INTEGER) AS month,
       CAST(EXTRACT(YEAR FROM start_time) AS INTEGER) AS year,
       CAST(EXTRACT(DOW FROM start_time) AS INTEGER) AS weekday
FROM (
    SELECT p.start_time FROM ({batch_plays}) AS p GROUP BY p.start_time
) AS distinct_times;
