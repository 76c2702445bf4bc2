-- Move the COPYed rows into the staging table, tagged with the stage transaction's load_id.
-- The driver sends a str as type UNKNOWN (OID 705): in a SELECT list the cast gives it a type.
INSERT INTO {staging_table} ({columns}, load_id)
SELECT {columns}, CAST(%(load_id)s AS VARCHAR(32))
FROM {copy_target};
