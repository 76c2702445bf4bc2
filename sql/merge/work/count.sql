-- How many rows a work table holds for this merge (with no songs written or retracted, no
-- earlier play can change its song: the rematch, which scans songplays, is skipped).
SELECT COUNT(*) FROM {work_table} WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32));
