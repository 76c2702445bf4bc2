-- Publish the batch's new start times: work/time.sql kept only keys time lacks, and a time
-- row is a function of its key, so nothing is rewritten (no MERGE needed).
INSERT INTO time (start_time, hour, day, week, month, year, weekday)
SELECT start_time, hour, day, week, month, year, weekday
FROM work_time
WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32));
