-- How many rows of a batch table already exist in its target (they will be updated; the rest
-- inserted), so each upsert reports inserted and updated rows separately.
SELECT COUNT(*) FROM {batch_table} AS b JOIN {target} AS t ON t.{key} = b.{key};
