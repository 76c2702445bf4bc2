-- The merge's distinct play start times (plays only, not every event), split into parts.
-- Weekday: 0 = Sunday, as EXTRACT(DOW) gives on both Redshift and PostgreSQL.
CREATE TEMP TABLE time_batch AS
SELECT DISTINCT
       p.start_time,
       CAST(EXTRACT(HOUR FROM p.start_time) AS INTEGER) AS hour,
       CAST(EXTRACT(DAY FROM p.start_time) AS INTEGER) AS day,
       CAST(EXTRACT(WEEK FROM p.start_time) AS INTEGER) AS week,
       CAST(EXTRACT(MONTH FROM p.start_time) AS INTEGER) AS month,
       CAST(EXTRACT(YEAR FROM p.start_time) AS INTEGER) AS year,
       CAST(EXTRACT(DOW FROM p.start_time) AS INTEGER) AS weekday
FROM ({batch_plays}) AS p;
