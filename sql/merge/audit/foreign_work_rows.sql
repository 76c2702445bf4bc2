-- Audit: rows of other merges in the work tables (must be 0): the publish MERGEs read whole
-- work tables, so a leftover row would be published with this batch.
SELECT (SELECT COUNT(*) FROM work_users WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)))
     + (SELECT COUNT(*) FROM work_songs WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)))
     + (SELECT COUNT(*) FROM work_artists WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)))
     + (SELECT COUNT(*) FROM work_time WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)))
     + (SELECT COUNT(*) FROM work_songplays WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)))
     + (SELECT COUNT(*) FROM work_rematch WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32)));
