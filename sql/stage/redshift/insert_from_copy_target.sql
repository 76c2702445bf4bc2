-- Move the COPYed rows into staging, tagged with the load_id and (one file COPYed) its file.
-- The driver sends a str or None as type UNKNOWN (OID 705): in a SELECT list casts type them.
INSERT INTO {staging_table} ({columns}, load_id, file_no)
SELECT {columns}, CAST(%(load_id)s AS VARCHAR(32)), CAST(%(file_no)s AS INTEGER)
FROM {copy_target};
