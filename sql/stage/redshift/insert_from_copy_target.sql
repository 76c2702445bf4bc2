-- Move the COPYed rows into the staging table, tagged with the stage transaction's load_id.
INSERT INTO {staging_table} ({columns}, load_id)
SELECT {columns}, %(load_id)s
FROM {copy_target};
