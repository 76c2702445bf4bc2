-- Remove one merge's rows from a work table: before a (retried) write step writes them again,
-- and once the merge is published or failed.
DELETE FROM {work_table} WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32));
