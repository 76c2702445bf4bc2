-- Write the start times of the merge's plays that the time dimension lacks, split into parts
-- (weekday: 0 = Sunday, DOW). Distinct first, parts after: one sort key instead of seven.
INSERT INTO work_time (merge_id, start_time, hour, day, week, month, year, weekday)
SELECT CAST(%(merge_id)s AS VARCHAR(32)), start_time,
       CAST(EXTRACT(HOUR FROM start_time) AS INTEGER),
       CAST(EXTRACT(DAY FROM start_time) AS INTEGER),
       CAST(EXTRACT(WEEK FROM start_time) AS INTEGER),
       CAST(EXTRACT(MONTH FROM start_time) AS INTEGER),
       CAST(EXTRACT(YEAR FROM start_time) AS INTEGER),
       CAST(EXTRACT(DOW FROM start_time) AS INTEGER)
FROM (
    SELECT p.start_time
    FROM work_songplays AS p
    WHERE p.merge_id = CAST(%(merge_id)s AS VARCHAR(32))
      AND NOT EXISTS (SELECT 1 FROM time AS t WHERE t.start_time = p.start_time)
    GROUP BY p.start_time
) AS new_times;
