-- How many of a work table's rows already exist in its target (they will be updated; the rest
-- inserted), so the publish reports inserted and updated rows separately.
SELECT COUNT(*) FROM {work_table} AS b JOIN {target} AS t ON t.{key} = b.{key}
WHERE b.merge_id = CAST(%(merge_id)s AS VARCHAR(32));
