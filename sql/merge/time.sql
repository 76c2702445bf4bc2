-- Upsert time rows by start_time; a start time seen before is rewritten with the same parts
-- (Redshift's MERGE needs a WHEN MATCHED clause).
MERGE INTO time
USING time_batch AS b
ON time.start_time = b.start_time
WHEN MATCHED THEN UPDATE SET
    hour = b.hour, day = b.day, week = b.week, month = b.month, year = b.year,
    weekday = b.weekday
WHEN NOT MATCHED THEN INSERT (start_time, hour, day, week, month, year, weekday)
    VALUES (b.start_time, b.hour, b.day, b.week, b.month, b.year, b.weekday);
