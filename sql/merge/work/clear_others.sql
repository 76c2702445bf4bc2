-- Remove rows that earlier, crashed merges left in a work table: the lease this merge just took
-- proves they are gone, and the publish MERGEs read the whole work table.
DELETE FROM {work_table} WHERE merge_id <> CAST(%(merge_id)s AS VARCHAR(32));
